// Common subexpression elimination (value numbering over extended basic blocks): in a block, a pure
// operation — a constant, a binary/unary operation, a select, the address of a symbol, function or slot —
// computed again from the same values becomes a copy of the first result; so does a load of known memory
// (an address computed from a data symbol's or a frame slot's address) read again with no store, call or
// intrinsic in between. Operands are compared by value number: registers holding the same constant, or
// copies of one another, count as the same. A block whose only predecessor was visited before it (reverse
// postorder) starts with that predecessor's facts at its end (the body of an `if`, the side of a bounds
// check that goes on): there only a load becomes a copy; an operation is computed again, its register
// numbered as the earlier one (Facts.earlier says why). Requires: a verified Module. Guarantees: the same
// values; a division that may trap is only reused (the first already trapped or did not); a load is only
// reused from ordinary memory the program itself named (never through a pointer made from an integer:
// device registers are read each time). Non-SSA safe: facts about a register die when it is redefined;
// facts flow only into a block whose every entry comes from the block they hold at the end of.
import * as ir from '../ir.ts';

/** Beyond this many facts a block does not hand them on (the copy would cost more than it saves). */
const INHERIT_LIMIT = 4096;

/** What is known at a point of a block: the value numbers, the expressions available and where. */
class Facts {
  readonly canon = new Map<number, number>();          // register -> register first holding its value
  readonly available = new Map<string, number>();     // expression key -> register holding it
  // Reverse indexes, so a redefinition costs what it kills, not the block's size (a 5,000-term
  // expression is one block): the registers whose canon is c, the keys held by d, the keys naming a
  // token. Entries may be stale (the fact died another way); each is checked before it acts.
  readonly copiesOf = new Map<number, number[]>();
  readonly heldBy = new Map<number, string[]>();
  readonly naming = new Map<string, string[]>();
  /** Keys of the loads available (all die at a store, a call or an intrinsic). */
  readonly loads = new Set<string>();
  /** Registers (by value number) holding an address inside known memory. */
  readonly known = new Set<number>();

  /**
   * Keys of operations computed in an earlier block: computed again here, not copied (a register holding
   * the value from there would be a register less for the allocator all the way, and a copied comparison
   * would have to be materialized, where the back end fuses it into its branch; a constant is an
   * immediate operand anywhere). The register gets the earlier one's value number, so what is computed
   * from it is still found: a load from the same address becomes a copy, the one thing reused across
   * blocks.
   */
  readonly earlier = new Set<string>();

  /** The facts a single successor starts with. */
  inherited(): Facts {
    const f = new Facts();
    for (const [k, v] of this.canon) f.canon.set(k, v);
    for (const [k, v] of this.available) {
      f.available.set(k, v);
      if (!k.startsWith('load:')) f.earlier.add(k);
    }
    for (const [k, v] of this.copiesOf) f.copiesOf.set(k, [...v]);
    for (const [k, v] of this.heldBy) f.heldBy.set(k, [...v]);
    for (const [k, v] of this.naming) f.naming.set(k, [...v]);
    for (const k of this.loads) f.loads.add(k);
    for (const k of this.known) f.known.add(k);
    return f;
  }

  get size(): number { return this.canon.size + this.available.size; }

  value(r: number): number { return this.canon.get(r) ?? r; }

  /** Register d is redefined: every fact about its old value dies. */
  kill(d: number): void {
    this.canon.delete(d);
    for (const r of this.copiesOf.get(d) ?? []) if (this.canon.get(r) === d) this.canon.delete(r);
    this.copiesOf.delete(d);
    for (const k of this.heldBy.get(d) ?? []) if (this.available.get(k) === d) this.available.delete(k);
    this.heldBy.delete(d);
    for (const k of this.naming.get(String(d)) ?? []) this.available.delete(k);
    this.naming.delete(String(d));
    this.known.delete(d);
  }

  /** Memory may have changed: no load is available any more. */
  forgetLoads(): void {
    for (const k of this.loads) this.available.delete(k);
    this.loads.clear();
  }

  makeAvailable(key: string, d: number): void {
    this.available.set(key, d);
    index(this.heldBy, d, key);
    for (const token of key.split(' ').slice(1)) index(this.naming, token, key);
  }
}

function index<K, V>(map: Map<K, V[]>, k: K, v: V): void {
  const l = map.get(k);
  if (l) l.push(v); else map.set(k, [v]);
}

/** The key of an instruction whose result may be reused, or null. */
function keyOf(facts: Facts, i: ir.Instr): string | null {
  if (i.op === 'load') {
    if (!facts.known.has(facts.value(i.address))) return null;
    return `load:${i.width}:${i.signed ? 's' : 'u'}:${i.offset} ${facts.value(i.address)}`;   // one register token
  }
  if (!ir.propertiesOf(i).pure || i.op === 'copy') return null;
  // a pure op's value: its opcode, its other operands, its registers' value numbers (copies are
  // followed through `canon` instead)
  const immediates = i.op === 'binary' || i.op === 'unary' ? [] : ir.immediatesOf(i); // the kind is the opcode
  return [ir.opcodeOf(i), ...immediates, ...ir.usedRegisters(i).map(r => facts.value(r))].join(' ');
}

/** Whether the result of `i` is an address inside known memory (a symbol's or slot's, plus or minus). */
function knownAddress(facts: Facts, i: ir.Instr): boolean {
  if (i.op === 'globalAddress' || i.op === 'slotAddress') return true;
  if (i.op !== 'binary' || (i.kind !== 'add' && i.kind !== 'sub')) return false;
  return facts.known.has(facts.value(i.a)) || (i.kind === 'add' && facts.known.has(facts.value(i.b)));
}

function writesMemory(i: ir.Instr): boolean {
  return i.op === 'store' || i.op === 'call' || i.op === 'callIndirect' || i.op === 'intrinsic';
}

function numberBlock(b: ir.Block, facts: Facts): void {
  b.instrs = b.instrs.map(i => {
    if (writesMemory(i)) facts.forgetLoads();
    const key = keyOf(facts, i);
    const d = ir.definedRegister(i);
    const hit = key !== null ? facts.available.get(key) : undefined;
    const same = hit !== undefined && d !== null && hit !== d;
    // an operation from an earlier block is computed again here, but as the same value
    const again = same && facts.earlier.has(key!);
    const out: ir.Instr = same && !again ? { op: 'copy', dst: d!, src: hit! } : i;
    if (d !== null) {
      // the register whose value d now holds: a copy's source, or the earlier result of the same operation
      const source = out.op === 'copy' ? out.src : same ? hit! : null;
      const known = source !== null ? facts.known.has(facts.value(source)) : knownAddress(facts, i);
      facts.kill(d);
      if (source !== null && facts.value(source) !== d) {
        facts.canon.set(d, facts.value(source));
        index(facts.copiesOf, facts.value(source), d);
        if (again) {                    // computed in this block now: reused here from d
          facts.makeAvailable(key!, d);
          facts.earlier.delete(key!);
        }
      } else if (key !== null && !ir.usedRegisters(i).includes(d)) {
        facts.makeAvailable(key, d);
        facts.earlier.delete(key);
        if (i.op === 'load') facts.loads.add(key);
      }
      if (known) facts.known.add(facts.value(d));
    }
    return out;
  });
}

export function eliminateCommonSubexpressions(m: ir.Module): ir.Module {
  for (const f of m.functions) {
    const predecessors = new Map<number, number>();       // block -> its predecessor count
    for (const b of f.blocks) for (const s of new Set(ir.successors(b.term))) {
      predecessors.set(s, (predecessors.get(s) ?? 0) + 1);
    }
    const onlyPredecessor = new Map<number, number>();
    for (const b of f.blocks) for (const s of new Set(ir.successors(b.term))) {
      if (predecessors.get(s) === 1 && s !== f.blocks[0].id) onlyPredecessor.set(s, b.id);
    }
    const blocks = new Map(f.blocks.map(b => [b.id, b]));
    const atEnd = new Map<number, Facts>();
    const order = ir.reversePostorder(f);
    const reached = new Set(order);
    for (const id of [...order, ...f.blocks.map(b => b.id).filter(id => !reached.has(id))]) {
      const block = blocks.get(id)!;
      const from = onlyPredecessor.get(id);
      const inherited = from === undefined ? undefined : atEnd.get(from);
      const facts = inherited && inherited.size <= INHERIT_LIMIT ? inherited.inherited() : new Facts();
      numberBlock(block, facts);
      // Kept only while a successor still has to start from them.
      if (ir.successors(block.term).some(s => onlyPredecessor.get(s) === id)) atEnd.set(id, facts);
    }
  }
  return m;
}
