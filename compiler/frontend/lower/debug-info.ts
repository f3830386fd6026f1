// Debug information from the lowering (compiler/ir.ts "debug information"): each DSL type as the debugger
// shows it, each parameter and local as a variable in its register, each struct the variables reach as a
// record. Requires: the entity being declared (context.ts). Guarantees: every struct a variable's type
// names is in cx.debugStructs (so in the Module's debugStructs), once per name.
import { ts } from 'ts-morph';
import type * as ir from '../../ir.ts';
import type { DType, StructDef } from '../types.ts';
import type { Entity, LowerContext } from './context.ts';

/** How the debugger shows a value of DSL type t (a struct or array field inline: see structType). */
function debugType(cx: LowerContext, t: DType): ir.DebugType {
  switch (t.kind) {
    case 'int': return { kind: 'int', bits: t.bits, signed: t.signed };
    case 'bool': return { kind: 'bool' };
    case 'string': return { kind: 'pointer', to: { kind: 'char' } };
    case 'array': return { kind: 'pointer', to: debugType(cx, t.element) };
    case 'struct': return { kind: 'pointer', to: structType(cx, t.def) };
    case 'void': case 'function': return { kind: 'pointer', to: null };
  }
}

/** The record of a struct (registered once by name), its inline structs and arrays by value. */
function structType(cx: LowerContext, def: StructDef): ir.DebugType {
  if (!cx.debugStructs.has(def.name)) {
    const record: ir.DebugStruct = { name: def.name, size: def.size, fields: [] };
    cx.debugStructs.set(def.name, record);
    for (const f of def.fields.values()) {
      let type: ir.DebugType;
      if (f.inline === 'struct' && f.type.kind === 'struct') type = structType(cx, f.type.def);
      else if (f.inline === 'array' && f.type.kind === 'array') {
        type = { kind: 'array', element: debugType(cx, f.type.element), length: f.arrayLength };
      } else type = debugType(cx, f.type);
      record.fields.push({ name: f.name, offset: f.offset, type });
    }
  }
  return { kind: 'struct', name: def.name };
}

/** Records a parameter or local of the function being lowered, declared at `node`, as a debug variable. */
export function declareVariable(
  cx: LowerContext, node: ts.Node, e: Entity & { kind: 'local' }, parameter: boolean,
): void {
  cx.fb.variables.push({ name: e.name, vreg: e.reg, type: debugType(cx, e.type), parameter, loc: cx.loc(node) });
}
