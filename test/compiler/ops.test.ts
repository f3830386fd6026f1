// Contract: the op table of compiler/ir.ts (OPS, FORMS) against independent facts: every field of every
// instruction form is a register read, the defined register or an immediate, as written out here by
// hand; mapUses/mapDefs rename exactly the registers of one instruction of every op; `commutative`
// agrees with the BigInt model of test/harness/ir-model.ts; `mayTrap` of the binary ops agrees with the
// interpreter (the reference semantics) on a zero divisor; the properties are consistent.
import test from 'ava';
import * as ir from '../../compiler/ir.ts';
import { binaryModel } from '../harness/ir-model.ts';
import { mainModule, report, run } from '../bytecode/helpers.ts';

type Sample = { instr: ir.Instr; registers: string[] }; // the fields that name registers (`args` a list)

/** One instruction of every op, registers 1, 2, 3 ... in field order, and its register fields by hand. */
function samples(): Sample[] {
  const list: Sample[] = [
    { instr: { op: 'const', dst: 1, value: 7 }, registers: ['dst'] },
    { instr: { op: 'copy', dst: 1, src: 2 }, registers: ['dst', 'src'] },
    { instr: { op: 'select', dst: 1, cond: 2, ifTrue: 3, ifFalse: 4 },
      registers: ['dst', 'cond', 'ifTrue', 'ifFalse'] },
    { instr: { op: 'load', width: 2, signed: true, dst: 1, address: 2, offset: 8 }, registers: ['dst', 'address'] },
    { instr: { op: 'store', width: 4, address: 1, offset: -4, value: 2 }, registers: ['address', 'value'] },
    { instr: { op: 'globalAddress', dst: 1, symbol: 'table' }, registers: ['dst'] },
    { instr: { op: 'functionAddress', dst: 1, func: 'f' }, registers: ['dst'] },
    { instr: { op: 'slotAddress', dst: 1, slot: 0 }, registers: ['dst'] },
    { instr: { op: 'call', dst: 1, func: 'f', args: [2, 3] }, registers: ['dst', 'args'] },
    { instr: { op: 'call', dst: null, func: 'f', args: [2] }, registers: ['args'] },
    { instr: { op: 'callIndirect', dst: 1, target: 2, args: [3, 4] }, registers: ['dst', 'target', 'args'] },
    { instr: { op: 'intrinsic', dst: 1, name: 'inb', args: [2] }, registers: ['dst', 'args'] },
    { instr: { op: 'intrinsic', dst: null, name: 'outb', args: [2, 3] }, registers: ['args'] },
    { instr: { op: 'trap', kind: ir.TRAP_BOUNDS }, registers: [] },
  ];
  for (const [name, p] of Object.entries(ir.OPS)) {
    const kind = name as never;
    const binary: ir.Instr = { op: 'binary', kind, dst: 1, a: 2, b: 3 };
    if (p.form === 'binary') list.push({ instr: binary, registers: ['dst', 'a', 'b'] });
    if (p.form === 'unary') list.push({ instr: { op: 'unary', kind, dst: 1, a: 2 }, registers: ['dst', 'a'] });
  }
  return list;
}

test('the samples hold every op of the table and every form', t => {
  const opcodes = new Set(samples().map(s => ir.opcodeOf(s.instr)));
  t.deepEqual([...opcodes].sort(), Object.keys(ir.OPS).sort());
  t.deepEqual([...new Set(samples().map(s => s.instr.op))].sort(), Object.keys(ir.FORMS).sort());
});

test('FORMS: every field of an instruction is op, dst, a register read, the list or an immediate, once', t => {
  for (const { instr, registers } of samples()) {
    const shape = ir.FORMS[instr.op];
    const list = shape.list ? [shape.list] : [];
    const named = ['op', ...(shape.defines === 'none' ? [] : ['dst']), ...shape.reads, ...list, ...shape.immediates];
    t.deepEqual([...named].sort(), Object.keys(instr).sort(), `${instr.op}: fields`);
    t.is(new Set(named).size, named.length, `${instr.op}: a field named twice`);
    const reads = registers.filter(f => f !== 'dst');
    t.deepEqual([...shape.reads, ...list].sort(), [...reads].sort(), `${instr.op}: register reads`);
    const alwaysDefines = instr.op !== 'store' && instr.op !== 'trap' && !('args' in instr);
    t.is(shape.defines === 'always', alwaysDefines, `${instr.op}: defines`);
  }
});

test('mapUses and mapDefs rename every register of every op and nothing else', t => {
  for (const { instr, registers } of samples()) {
    const before = structuredClone(instr);
    const uses = ir.mapUses(instr, r => r + 100), defs = ir.mapDefs(instr, r => r + 200);
    t.deepEqual(instr, before, `${ir.opcodeOf(instr)}: the original is left alone`);
    for (const [field, value] of Object.entries(instr) as [string, unknown][]) {
      const isRead = registers.includes(field) && field !== 'dst';
      const expectUse = isRead ? (Array.isArray(value) ? value.map(r => r + 100) : (value as number) + 100) : value;
      const fields = (x: ir.Instr) => x as unknown as Record<string, unknown>;
      t.deepEqual(fields(uses)[field], expectUse, `${ir.opcodeOf(instr)}.${field} after mapUses`);
      const expectDef = field === 'dst' && value !== null ? (value as number) + 200 : value;
      t.deepEqual(fields(defs)[field], expectDef, `${ir.opcodeOf(instr)}.${field} after mapDefs`);
    }
    t.deepEqual(ir.usedRegisters(ir.mapUses(instr, r => r + 100)), ir.usedRegisters(instr).map(r => r + 100));
    t.is(ir.definedRegister(instr), 'dst' in instr ? instr.dst : null);
  }
});

test('terminators: mapTerminatorUses renames the branch condition and the returned value', t => {
  t.deepEqual(ir.mapTerminatorUses({ op: 'branch', cond: 1, ifTrue: 2, ifFalse: 3 }, r => r + 10),
    { op: 'branch', cond: 11, ifTrue: 2, ifFalse: 3 });
  t.deepEqual(ir.mapTerminatorUses({ op: 'return', value: 4 }, r => r + 10), { op: 'return', value: 14 });
  t.deepEqual(ir.mapTerminatorUses({ op: 'return', value: null }, r => r + 10), { op: 'return', value: null });
  t.deepEqual(ir.mapTerminatorUses({ op: 'jump', target: 4 }, r => r + 10), { op: 'jump', target: 4 });
});

test('OPS: rows are consistent (forms exist, pure means no effects, effects may trap)', t => {
  for (const [name, p] of Object.entries(ir.OPS)) {
    t.true(p.form in ir.FORMS, `${name}: form ${p.form}`);
    if (p.form !== 'binary' && p.form !== 'unary') t.is(p.form as string, name, `${name}: named by its own form`);
    if (p.pure) t.false(p.sideEffects, `${name}: pure with side effects`);
    if (p.sideEffects) t.true(p.mayTrap, `${name}: side effects but cannot trap`);
    if (p.commutative) t.is(p.form, 'binary', `${name}: commutative but not binary`);
  }
  t.false(ir.OPS.load.pure, 'a load reads memory');
  t.true(ir.isSpeculatable({ op: 'binary', kind: 'add', dst: 2, a: 0, b: 1 }));
  t.false(ir.isSpeculatable({ op: 'binary', kind: 'divu', dst: 2, a: 0, b: 1 }));
});

const EDGES = [0, 1, -1, 2, 3, -7, 31, 32, 0x7fffffff, -0x80000000, 0x12345678];

test('commutative: exactly the binary ops whose model result never depends on the operand order', t => {
  for (const [name, p] of Object.entries(ir.OPS)) {
    if (p.form !== 'binary') continue;
    const kind = name as ir.BinaryOp;
    const pairs = EDGES.flatMap(a => EDGES.map(b => [a, b])).filter(([a, b]) => !p.mayTrap || (a !== 0 && b !== 0));
    const symmetric = pairs.every(([a, b]) => binaryModel(kind, a, b) === binaryModel(kind, b, a));
    t.is(p.commutative, symmetric, `${kind}: commutative ${p.commutative}, the model says ${symmetric}`);
  }
});

test('mayTrap: exactly the binary ops that reach the trap handler on a zero divisor in the interpreter', t => {
  for (const [name, p] of Object.entries(ir.OPS)) {
    if (p.form !== 'binary') continue;
    const r = run(mainModule(f => { report(f, f.binary(name as ir.BinaryOp, f.constant(7), f.constant(0))); }));
    t.is(r.traps.length > 0, p.mayTrap, `${name}: mayTrap ${p.mayTrap}, interpreter traps: ${r.traps.length}`);
    if (!p.mayTrap) t.deepEqual(r.values, [binaryModel(name as ir.BinaryOp, 7, 0)]);
  }
});
