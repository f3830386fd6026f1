// Globals and data: module-level variables and the data symbols they live in, laid out at build time.
// A module-level `const` integer or bool is a compile-time constant; a `let` one is a scalar in .data
// (.bss when zero); `new TypedArray(N)`, `new Struct()` and `structArray(S, N)` are static storage (a
// zeroed array in .bss gets its length word stored by __start, cx.startupStores); a const array literal
// is data with its length word; a const string is a constant. Requires: declarations (struct layouts,
// module-level constants). Guarantees: every module-level variable has its entity and its data symbol;
// every initializer is a constant of the variable's type (DSL2011, DSL2002), or an error names why not.
import { ts } from 'ts-morph';
import * as ir from '../../ir.ts';
import { type DType, type StructDef, BOOL, TYPED_ARRAYS, typeName, sameType, storageSize } from '../types.ts';
import {
  type LowerContext, type Entity, type FunctionEntity, ARRAY_HEADER, isConstDeclaration, writeInt,
} from './context.ts';
import { tryConstant, constantValue, functionConstant, arrayLength } from './constants.ts';
import { structOfExpression, resolveType, literalType } from './declarations.ts';

const K = ts.SyntaxKind;

export function lowerGlobals(cx: LowerContext, file: ts.SourceFile): void {
  for (const s of file.statements) {
    if (!ts.isVariableStatement(s)) continue;
    for (const d of s.declarationList.declarations)
      if (!cx.constantsDeclared.has(d)) cx.guard(() => lowerGlobal(cx, d));
  }
}

function lowerGlobal(cx: LowerContext, d: ts.VariableDeclaration): void {
  const name = (d.name as ts.Identifier).text, isConst = isConstDeclaration(d);
  const declared = d.type ? resolveType(cx, d.type) : undefined;
  const init = d.initializer ?? zeroInitializer(cx, d, declared);
  // new TypedArray(N) / new Struct() / structArray(S, N): static storage.
  const storage = staticStorage(cx, init, declared, name);
  if (storage) {
    if (!isConst)
      cx.error(d, 'DSL2005', `'${name}' is static storage: declare it with const (its contents stay mutable)`);
    cx.declare(d.name, storage);
    return;
  }
  if (ts.isStringLiteral(init)) {
    if (!isConst)
      cx.error(d, 'DSL1010', `'${name}': a module-level string must be a const (strings are read-only literals)`);
    if (declared && declared.kind !== 'string')
      cx.error(d, 'DSL2001', `'${name}' is declared ${typeName(declared)} but initialized with a string`);
    cx.declare(d.name, { kind: 'stringConstant', text: init.text, name });
    return;
  }
  if (ts.isArrayLiteralExpression(init)) {
    if (!declared || declared.kind !== 'array')
      cx.error(d, 'DSL2001', `array '${name}' needs a type annotation such as i32[]`);
    const element = declared.element;
    const size = storageSize(element);
    const bytes = new Uint8Array(ARRAY_HEADER + size * init.elements.length);
    writeInt(bytes, 0, 4, init.elements.length);
    const relocations: ir.DataSymbol['relocations'] = [];
    for (const [i, el] of init.elements.entries()) {
      const offset = ARRAY_HEADER + i * size;
      if (element.kind === 'function')
        relocations.push({ offset, symbol: functionConstant(cx, el, element), kind: 'function' });
      else if (element.kind === 'int' || element.kind === 'bool')
        writeInt(bytes, offset, size, constantValue(cx, el, element));
      else cx.error(el, 'DSL1008', `arrays of ${typeName(element)} cannot be written as literals: use structArray`);
    }
    const symbol = cx.uniqueName(name);
    cx.data.push({ name: symbol, section: 'data', align: 4, size: bytes.length, bytes, relocations });
    cx.declare(d.name, {
      kind: 'static', type: { kind: 'array', element, plain: true }, symbol, offset: ARRAY_HEADER, name,
      length: isConst ? init.elements.length : undefined,
    });
    return;
  }
  const type = declared ?? (init.kind === K.TrueKeyword || init.kind === K.FalseKeyword ? BOOL
    : isFunctionName(cx, init) ? functionType(cx, init) : literalType(cx, init));
  if (type.kind === 'function') {
    const func = functionConstant(cx, init, type);
    const symbol = cx.uniqueName(name);
    const relocations: ir.DataSymbol['relocations'] = [{ offset: 0, symbol: func, kind: 'function' }];
    cx.data.push({ name: symbol, section: 'data', align: 4, size: 4, bytes: new Uint8Array(4), relocations });
    cx.declare(d.name, { kind: 'global', type, symbol, mutable: !isConst, name });
    return;
  }
  if (type.kind !== 'int' && type.kind !== 'bool')
    cx.error(d, 'DSL2001', `a module-level '${name}' of type ${typeName(type)} is not supported`);
  const value = constantValue(cx, init, type);
  if (isConst) {
    cx.declare(d.name, { kind: 'constant', type, value, name, untyped: !declared && type.kind === 'int' });
    return;
  }
  const size = storageSize(type);
  const symbol = cx.uniqueName(name);
  const bytes = new Uint8Array(size);
  writeInt(bytes, 0, size, value);
  cx.data.push(value === 0
    ? { name: symbol, section: 'bss', align: size, size, relocations: [] }
    : { name: symbol, section: 'data', align: size, size, bytes, relocations: [] });
  cx.declare(d.name, { kind: 'global', type, symbol, mutable: true, name });
}

/** `let x: i32;` is zero-initialized (tsc checks that it is assigned before it is read). */
export function zeroInitializer(cx: LowerContext, d: ts.VariableDeclaration,
  declared: DType | undefined): ts.Expression {
  if (isConstDeclaration(d) || !declared || (declared.kind !== 'int' && declared.kind !== 'bool'))
    cx.error(d, 'DSL1012',
      `'${d.name.getText()}' needs an initializer (only integer and bool variables start at zero)`);
  cx.options.observer?.typed(d.name, declared);
  return declared.kind === 'bool' ? ts.factory.createFalse() : ts.factory.createNumericLiteral(0);
}

function isFunctionName(cx: LowerContext, node: ts.Expression): boolean {
  return cx.entityOf(node)?.kind === 'function';
}

function functionType(cx: LowerContext, node: ts.Expression): DType {
  const e = cx.entityOf(node) as FunctionEntity;
  return { kind: 'function', signature: e.signature };
}

/** Static storage for new TypedArray(N), new Struct(), structArray(S, N); undefined for other initializers. */
function staticStorage(cx: LowerContext, init: ts.Expression, declared: DType | undefined,
  name: string): Entity | undefined {
  const shape = storageShape(cx, init);
  if (!shape) return undefined;
  if (declared && !sameType(declared, shape.type))
    cx.error(init, 'DSL2001',
      `'${name}' is declared ${typeName(declared)} but initialized with ${typeName(shape.type)}`);
  const symbol = cx.uniqueName(name);
  if (shape.type.kind === 'struct') {
    const { align, size } = shape.type.def;
    const t = structTemplate(cx, shape.type.def);
    const zero = t.bytes.every(b => b === 0) && t.functions.length === 0;
    const relocations = t.functions.map(f => ({ offset: f.offset, symbol: f.func, kind: 'function' as const }));
    cx.data.push(zero
      ? { name: symbol, section: 'bss', align, size, relocations: [] }
      : { name: symbol, section: 'data', align, size, bytes: t.bytes, relocations });
    return { kind: 'static', type: shape.type, symbol, offset: 0, name };
  }
  const stride = shape.stride, count = shape.count;
  const size = ARRAY_HEADER + stride * count;
  const align = Math.max(4, shape.type.element.kind === 'struct' ? shape.type.element.def.align : 4);
  if (shape.type.element.kind === 'struct') {
    const t = structTemplate(cx, shape.type.element.def);
    if (!(t.bytes.every(b => b === 0) && t.functions.length === 0)) {
      const bytes = new Uint8Array(size);
      writeInt(bytes, 0, 4, count);
      const relocations: ir.DataSymbol['relocations'] = [];
      for (let i = 0; i < count; i++) {
        bytes.set(t.bytes, ARRAY_HEADER + i * stride);
        for (const f of t.functions)
          relocations.push({ offset: ARRAY_HEADER + i * stride + f.offset, symbol: f.func, kind: 'function' });
      }
      cx.data.push({ name: symbol, section: 'data', align, size, bytes, relocations });
      return { kind: 'static', type: shape.type, symbol, offset: ARRAY_HEADER, name, length: count };
    }
  }
  // Zeroed: .bss, its length word stored by __start before anything else runs.
  cx.data.push({ name: symbol, section: 'bss', align, size, relocations: [] });
  cx.startupStores.push({ symbol, offset: 0, value: count });
  return { kind: 'static', type: shape.type, symbol, offset: ARRAY_HEADER, name, length: count };
}

/** What `new TypedArray(N)`, `new Struct()` or `structArray(S, N)` creates: a type, an array's stride and count. */
export type StorageShape =
  | { type: DType & { kind: 'array' }; stride: number; count: number }
  | { type: DType & { kind: 'struct' }; stride: 0; count: 0 };

/** The storage an initializer creates (module level or in a frame), or undefined when it creates none. */
export function storageShape(cx: LowerContext, init: ts.Expression): StorageShape | undefined {
  if (ts.isNewExpression(init) && ts.isIdentifier(init.expression)) {
    const element = TYPED_ARRAYS[init.expression.text];
    if (element)
      return { type: { kind: 'array', element }, stride: element.bits / 8, count: arrayLength(cx, init) };
    const def = structOfExpression(cx, init.expression);
    if (init.arguments?.length) cx.error(init, 'DSL1004', 'structs have no constructor arguments');
    return { type: { kind: 'struct', def }, stride: 0, count: 0 };
  }
  if (ts.isCallExpression(init)) {
    const e = cx.entityOf(init.expression);
    if (e?.kind === 'builtin' && e.name === 'structArray') {
      if (init.arguments.length !== 2) cx.error(init, 'DSL2007', 'structArray(Struct, count) takes 2 arguments');
      const def = structOfExpression(cx, init.arguments[0]);
      const c = tryConstant(cx, init.arguments[1]);
      if (!c || c.value <= 0)
        cx.error(init.arguments[1], 'DSL2004', 'structArray needs a positive constant count');
      return { type: { kind: 'array', element: { kind: 'struct', def } }, stride: def.size, count: c.value };
    }
  }
  return undefined;
}

/** Initial bytes of a struct: every field's constant initializer, nested structs included. */
export function structTemplate(cx: LowerContext, def: StructDef):
  { bytes: Uint8Array; functions: { offset: number; func: string }[] } {
  const bytes = new Uint8Array(def.size);
  const functions: { offset: number; func: string }[] = [];
  const decl = [...cx.structs.entries()].find(([, d]) => d === def)![0];
  for (const m of decl.members) {
    if (!ts.isPropertyDeclaration(m)) continue;
    const field = def.fields.get(m.name.getText())!;
    if (field.inline === 'array') continue;
    if (field.inline === 'struct') {
      const inner = structTemplate(cx, (field.type as { def: StructDef }).def);
      bytes.set(inner.bytes, field.offset);
      for (const f of inner.functions) functions.push({ offset: field.offset + f.offset, func: f.func });
      continue;
    }
    if (field.type.kind === 'function') {
      functions.push({ offset: field.offset, func: functionConstant(cx, m.initializer!, field.type) });
      continue;
    }
    const value = constantValue(cx, m.initializer!, field.type);
    writeInt(bytes, field.offset, storageSize(field.type), value);
  }
  return { bytes, functions };
}
