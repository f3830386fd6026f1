// The IR verifier: checks a Module's structural invariants. Run after lowering and after every pass
// (in tests always; in the pipeline with --verify). Throws with every problem it found.
import * as ir from './ir.ts';

export function verifyModule(m: ir.Module): void {
  const problems: string[] = [];
  const functions = new Map(m.functions.map(f => [f.name, f]));
  const entries = new Set((m.interruptEntries ?? []).map(e => e.name));
  const codeNames = new Set([...functions.keys(), ...entries]);
  const data = new Set(m.data.map(d => d.name));
  for (const e of m.interruptEntries ?? []) {
    if (functions.has(e.name)) problems.push(`interrupt entry '${e.name}' clashes with a function`);
    if (!Number.isInteger(e.vector) || e.vector < 0 || e.vector > ir.INTERRUPT_ENTRY_VECTOR_MAX) {
      problems.push(`interrupt entry '${e.name}': vector ${e.vector} outside 0..${ir.INTERRUPT_ENTRY_VECTOR_MAX}`);
    }
    const handler = functions.get(e.handler);
    if (!handler) problems.push(`interrupt entry '${e.name}': unknown handler '${e.handler}'`);
    else if (handler.params !== 1) problems.push(`interrupt entry '${e.name}': handler '${e.handler}' must take one parameter (the frame address)`);
  }
  if (entries.size !== (m.interruptEntries ?? []).length) problems.push('duplicate interrupt entry names');
  if (functions.size !== m.functions.length) problems.push('duplicate function names');
  if (data.size !== m.data.length) problems.push('duplicate data symbol names');
  if (!functions.has(m.entry)) problems.push(`entry '${m.entry}' is not a function`);
  if (!functions.has(m.trapHandler)) problems.push(`trap handler '${m.trapHandler}' is not a function`);
  for (const d of m.data) {
    if (d.section !== 'bss' && (!d.bytes || d.bytes.length !== d.size)) problems.push(`data '${d.name}': bytes do not match size`);
    for (const r of d.relocations) {
      if (r.offset < 0 || r.offset + 4 > d.size) problems.push(`data '${d.name}': relocation outside the symbol`);
      if (r.kind === 'function' ? !codeNames.has(r.symbol) : !data.has(r.symbol)) problems.push(`data '${d.name}': relocation to unknown ${r.kind} '${r.symbol}'`);
    }
  }
  for (const f of m.functions) {
    const where = (b: ir.Block) => `${f.name}: block ${b.id}`;
    if (f.blocks.length === 0) { problems.push(`${f.name}: no blocks`); continue; }
    const defined = new Set<number>();
    for (let p = 0; p < f.params; p++) defined.add(p);
    for (const b of f.blocks) for (const i of b.instrs) { const d = ir.definedRegister(i); if (d !== null) defined.add(d); }
    const reg = (b: ir.Block, r: number, role: string) => {
      if (!Number.isInteger(r) || r < 0 || r >= f.vregCount) problems.push(`${where(b)}: ${role} v${r} out of range (vregCount ${f.vregCount})`);
    };
    f.blocks.forEach((b, index) => {
      if (b.id !== index) problems.push(`${where(b)}: id does not match its index ${index}`);
      for (const i of b.instrs) {
        const d = ir.definedRegister(i);
        if (d !== null) reg(b, d, `${i.op} destination`);
        for (const u of ir.usedRegisters(i)) {
          reg(b, u, `${i.op} operand`);
          if (!defined.has(u)) problems.push(`${where(b)}: v${u} is used by ${i.op} but never defined`);
        }
        switch (i.op) {
          case 'const': if (i.value !== (i.value | 0)) problems.push(`${where(b)}: const ${i.value} is not an int32`); break;
          case 'load': case 'store': if (![1, 2, 4].includes(i.width)) problems.push(`${where(b)}: bad width ${i.width}`); break;
          case 'globalAddress': if (!data.has(i.symbol) && !ir.isLinkerSymbol(i.symbol)) problems.push(`${where(b)}: unknown data symbol '${i.symbol}'`); break;
          case 'functionAddress': if (!codeNames.has(i.func)) problems.push(`${where(b)}: unknown function '${i.func}'`); break;
          case 'slotAddress': if (i.slot < 0 || i.slot >= f.slots.length) problems.push(`${where(b)}: unknown slot ${i.slot}`); break;
          case 'call': {
            const callee = functions.get(i.func);
            if (!callee) { problems.push(`${where(b)}: call to unknown function '${i.func}'`); break; }
            if (callee.params !== i.args.length) problems.push(`${where(b)}: call to '${i.func}' with ${i.args.length} arguments, it takes ${callee.params}`);
            if (i.dst !== null && !callee.returnsValue) problems.push(`${where(b)}: call to '${i.func}' uses the result of a void function`);
            break;
          }
          case 'intrinsic': {
            const spec = ir.INTRINSICS[i.name];
            if (!spec) { problems.push(`${where(b)}: unknown intrinsic '${i.name}'`); break; }
            if (spec.args !== i.args.length) problems.push(`${where(b)}: intrinsic ${i.name} takes ${spec.args} arguments`);
            if ((i.dst !== null) !== spec.result) problems.push(`${where(b)}: intrinsic ${i.name} result mismatch`);
            break;
          }
        }
      }
      for (const u of ir.terminatorUses(b.term)) { reg(b, u, `${b.term.op} operand`); if (!defined.has(u)) problems.push(`${where(b)}: v${u} used by ${b.term.op} but never defined`); }
      for (const s of ir.successors(b.term)) if (s < 0 || s >= f.blocks.length) problems.push(`${where(b)}: branch to missing block ${s}`);
      if (b.term.op === 'return' && (b.term.value !== null) !== f.returnsValue) problems.push(`${where(b)}: return ${b.term.value === null ? 'without' : 'with'} a value in a function that ${f.returnsValue ? 'returns one' : 'returns none'}`);
    });
  }
  if (problems.length) throw new Error(`IR verifier:\n  ${problems.join('\n  ')}`);
}
