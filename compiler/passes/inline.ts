// Inlining of small functions: a direct call to a function of at most INLINE_LIMIT instructions
// (terminators counted, constants not: they become immediates), with no
// frame slots and that calls nothing (a trap is fine), is replaced by a copy of its body (registers renamed, parameters
// copied from the arguments, each return a copy into the call's result and a jump to the rest of the
// caller's block). Then, as gcc's -finline-functions-called-once, a function with the same restrictions of up
// to ONCE_LIMIT instructions that one call of the module names (once the small ones are inlined), and no
// function reference, is inlined at that call: the code does not grow, and constant arguments reach its loops
// (crc32(32768): the loop's bound is known, its bounds check goes). A function marked noInline stays a call.
// Requires: a verified Module. Guarantees: the same behaviour; the callee stays (other
// callers, function references) until unused-functions removes it; the copy takes the call's source position
// (the debugger's `next` steps over an inlined call as over any other).
import * as ir from '../ir.ts';

const INLINE_LIMIT = 16;
const ONCE_LIMIT = 200;

/** The size INLINE_LIMIT counts, or Infinity when it has frame slots or calls or must stay a call. */
function inlinableSize(f: ir.Function): number {
  if (f.slots.length > 0 || f.noInline) return Infinity;
  let size = 0;
  for (const b of f.blocks) {
    size += 1;
    for (const i of b.instrs) {
      if (i.op === 'call' || i.op === 'callIndirect') return Infinity;
      if (i.op !== 'const') size++;
    }
  }
  return size;
}

/** The calls naming each function, Infinity for one referenced by address; functions in `skip` not counted. */
function callSites(m: ir.Module, skip: Set<string>): Map<string, number> {
  const count = new Map<string, number>();
  const add = (name: string, n: number) => count.set(name, (count.get(name) ?? 0) + n);
  for (const d of m.data) for (const r of d.relocations) if (r.kind === 'function') add(r.symbol, Infinity);
  for (const f of m.functions) {
    if (skip.has(f.name)) continue;
    for (const b of f.blocks) for (const i of b.instrs) {
      if (i.op === 'call') add(i.func, 1);
      if (i.op === 'functionAddress') add(i.func, Infinity);
    }
  }
  return count;
}

export function inlineSmallFunctions(m: ir.Module): ir.Module {
  const entryHandlers = new Set([m.entry, m.trapHandler, ...(m.interruptEntries ?? []).map(e => e.handler)]);
  inlineCallsTo(m, new Set(m.functions.filter(f => inlinableSize(f) <= INLINE_LIMIT && !entryHandlers.has(f.name))
    .map(f => f.name)));
  // Called once: inlined at that call, after which nothing calls the original (its own calls no longer count).
  const inlined = new Set<string>();
  for (;;) {
    const sites = callSites(m, inlined);
    const once = m.functions.filter(f => sites.get(f.name) === 1 && !entryHandlers.has(f.name) && !inlined.has(f.name)
      && inlinableSize(f) <= ONCE_LIMIT).map(f => f.name);
    if (once.length === 0) return m;
    for (const name of once) {
      inlineCallsTo(m, new Set([name]), inlined);
      inlined.add(name);
    }
  }
}

/** Inlines every call of a function in `candidates` (not into itself nor into a function in `skip`). */
function inlineCallsTo(m: ir.Module, candidates: Set<string>, skip = new Set<string>()): void {
  const byName = new Map(m.functions.map(f => [f.name, f]));
  for (const f of m.functions) {
    if (skip.has(f.name)) continue;
    let changed = true;
    while (changed) {
      changed = false;
      for (let bi = 0; bi < f.blocks.length; bi++) {
        const block = f.blocks[bi];
        const at = block.instrs.findIndex(i => i.op === 'call' && candidates.has(i.func) && i.func !== f.name);
        if (at < 0) continue;
        inlineCall(f, block, at, byName.get((block.instrs[at] as Extract<ir.Instr, { op: 'call' }>).func)!);
        changed = true;
        break;
      }
    }
  }
}

/** Splits `block` at the call, appends the callee's blocks (renamed) and the continuation. */
function inlineCall(f: ir.Function, block: ir.Block, at: number, callee: ir.Function): void {
  const call = block.instrs[at] as Extract<ir.Instr, { op: 'call' }>;
  const base = f.vregCount;
  f.vregCount += callee.vregCount;
  const reg = (r: number) => base + r;
  const atCall = <T extends ir.Instr | ir.Terminator>(x: T): T => {
    if (call.loc) x.loc = call.loc; else delete x.loc;
    return x;
  };
  const firstBlock = f.blocks.length;
  const continuation: ir.Block = { id: firstBlock + callee.blocks.length, instrs: block.instrs.slice(at + 1), term: block.term, loc: block.loc };
  // the caller's block: everything before the call, the parameters, a jump into the callee's entry
  block.instrs = block.instrs.slice(0, at);
  call.args.forEach((arg, p) => block.instrs.push(atCall({ op: 'copy', dst: reg(p), src: arg })));
  block.term = atCall({ op: 'jump', target: firstBlock });
  for (const cb of callee.blocks) {
    const instrs = cb.instrs.map(i => atCall(ir.mapDefs(ir.mapUses(i, reg), reg)));
    let term: ir.Terminator;
    const t = cb.term;
    if (t.op === 'jump') term = { op: 'jump', target: firstBlock + t.target };
    else if (t.op === 'branch') term = { op: 'branch', cond: reg(t.cond), ifTrue: firstBlock + t.ifTrue, ifFalse: firstBlock + t.ifFalse };
    else if (t.op === 'return') {
      if (call.dst !== null && t.value !== null) instrs.push(atCall({ op: 'copy', dst: call.dst, src: reg(t.value) }));
      term = { op: 'jump', target: continuation.id };
    } else term = { op: 'unreachable' };
    f.blocks.push({ id: firstBlock + cb.id, instrs, term: atCall(term), loc: cb.loc ?? block.loc });
  }
  f.blocks.push(continuation);
}
