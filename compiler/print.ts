// The IR printer: a stable text form for golden files, listings, IR text tests (test/ir) and debugging
// (`denali run --emit-ir`). compiler/parse.ts reads it back: parse(print(x)) is x but for what the text
// leaves out (source locations, which are `;` comments, and registers numbered above any the function
// names); printModule elides data bytes past the 32nd unless asked for all of them.
import * as ir from './ir.ts';

const v = (r: number) => `v${r}`;

export function printInstr(i: ir.Instr): string {
  const dst = (d: number | null) => (d === null ? '' : `${v(d)} = `);
  switch (i.op) {
    case 'const': return `${v(i.dst)} = const ${i.value}`;
    case 'copy': return `${v(i.dst)} = copy ${v(i.src)}`;
    case 'binary': return `${v(i.dst)} = ${i.kind} ${v(i.a)}, ${v(i.b)}`;
    case 'unary': return `${v(i.dst)} = ${i.kind} ${v(i.a)}`;
    case 'select': return `${v(i.dst)} = select ${v(i.cond)}, ${v(i.ifTrue)}, ${v(i.ifFalse)}`;
    case 'load': return `${v(i.dst)} = load.${i.signed ? 's' : 'u'}${i.width * 8} [${v(i.address)}${off(i.offset)}]`;
    case 'store': return `store.${i.width * 8} [${v(i.address)}${off(i.offset)}], ${v(i.value)}`;
    case 'globalAddress': return `${v(i.dst)} = address ${i.symbol}`;
    case 'functionAddress': return `${v(i.dst)} = function ${i.func}`;
    case 'slotAddress': return `${v(i.dst)} = slot ${i.slot}`;
    case 'call': return `${dst(i.dst)}call ${i.func}(${i.args.map(v).join(', ')})`;
    case 'callIndirect': return `${dst(i.dst)}call *${v(i.target)}(${i.args.map(v).join(', ')})`;
    case 'intrinsic': return `${dst(i.dst)}${i.name}(${i.args.map(v).join(', ')})`;
    case 'trap': return `trap ${ir.TRAP_NAMES[i.kind]}`;
  }
}

function off(n: number): string { return n === 0 ? '' : n > 0 ? ` + ${n}` : ` - ${-n}`; }

function printTerminator(t: ir.Terminator): string {
  switch (t.op) {
    case 'jump': return `jump b${t.target}`;
    case 'branch': return `branch ${v(t.cond)}, b${t.ifTrue}, b${t.ifFalse}`;
    case 'return': return t.value === null ? 'return' : `return ${v(t.value)}`;
    case 'unreachable': return 'unreachable';
  }
}

export function printFunction(f: ir.Function): string {
  const lines = [`function ${f.name}(${Array.from({ length: f.params }, (_, i) => v(i)).join(', ')})${f.returnsValue ? ' -> i32' : ''} {`];
  for (const [i, s] of f.slots.entries()) {
    lines.push(`  slot ${i}: ${s.size} bytes, align ${s.align}, ${JSON.stringify(s.name)}`);
  }
  for (const b of f.blocks) {
    lines.push(`b${b.id}:${b.loc ? `  ; line ${b.loc.line}` : ''}`);
    for (const i of b.instrs) lines.push(`  ${printInstr(i)}`);
    lines.push(`  ${printTerminator(b.term)}`);
  }
  lines.push('}');
  return lines.join('\n');
}

/** Data bytes printed of each symbol unless `completeData` (the rest is ` ...`, which the parser refuses). */
const DATA_BYTES_SHOWN = 32;

export function printModule(m: ir.Module, options: { completeData?: boolean } = {}): string {
  const out: string[] = [`entry ${m.entry}, trap handler ${m.trapHandler}`];
  for (const e of m.interruptEntries ?? []) out.push(`interrupt ${e.name} vector ${e.vector} handler ${e.handler}`);
  for (const d of m.data) {
    const shown = options.completeData ? d.bytes : d.bytes?.slice(0, DATA_BYTES_SHOWN);
    const elided = shown && d.bytes && shown.length < d.bytes.length ? ' ...' : '';
    const bytes = shown ? ` = [${Array.from(shown).join(' ')}${elided}]` : '';
    const relocations = d.relocations.map(r => `+${r.offset}:${r.kind}:${r.symbol}`).join(' ');
    const rel = relocations ? ` relocations ${relocations}` : '';
    out.push(`data ${d.name} .${d.section} size ${d.size} align ${d.align}${bytes}${rel}`);
  }
  for (const f of m.functions) out.push('', printFunction(f));
  return out.join('\n') + '\n';
}
