// Memory and overlays: every read and write of storage. A struct or array value is an address: of
// static storage, of frame storage, or any address `overlay(S, address)` made a struct of. Names, struct
// fields, array elements and `.length` are read as loads; places (lvalues) load and store with the width
// of their type; an element access is bounds-checked against the array's length (a constant for static
// and inline arrays, else the length word before the elements), trapping with TRAP_BOUNDS. Frame storage
// (local typed arrays, structs, array literals) lives in slots, initialized as `new` initializes it.
// Guarantees: loads extend to 32 bits by the type's signedness, stores keep the low bytes (as JavaScript's
// typed arrays do), and no access reaches outside an array.
import { ts } from 'ts-morph';
import * as ir from '../../ir.ts';
import {
  type DType, type StructDef, type StructField, I32, BOOL, STRING, typeName, storageSize, fits, promote,
} from '../types.ts';
import { type LowerContext, type Value, type LValue, ARRAY_HEADER, writeInt } from './context.ts';
import { tryConstant } from './constants.ts';
import { readLocal } from './evaluation-order.ts';
import { lowerExpression, lowerConverted } from './expressions.ts';
import { structTemplate, type StorageShape } from './globals.ts';

const K = ts.SyntaxKind;

export function loadMemory(cx: LowerContext, type: DType, address: ir.VReg, offset: number): ir.VReg {
  const dst = cx.fb.newReg();
  if (type.kind === 'int')
    cx.fb.emit({ op: 'load', width: (type.bits / 8) as ir.Width, signed: type.signed, dst, address, offset });
  else if (type.kind === 'bool') cx.fb.emit({ op: 'load', width: 1, signed: false, dst, address, offset });
  else cx.fb.emit({ op: 'load', width: 4, signed: false, dst, address, offset });
  return dst;
}

function storeMemory(cx: LowerContext, type: DType, address: ir.VReg, offset: number, value: ir.VReg): void {
  const width = (type.kind === 'int' ? type.bits / 8 : type.kind === 'bool' ? 1 : 4) as ir.Width;
  cx.fb.emit({ op: 'store', width, address, offset, value });
}

export function globalAddress(cx: LowerContext, symbol: string, offset = 0): ir.VReg {
  const dst = cx.fb.newReg();
  cx.fb.emit({ op: 'globalAddress', dst, symbol });
  return offset ? cx.fb.binary('add', dst, cx.fb.constant(offset)) : dst;
}

export function stringAddress(cx: LowerContext, text: string): ir.VReg {
  let symbol = cx.strings.get(text);
  if (!symbol) {
    const encoded = Buffer.from(text, 'latin1');
    const bytes = new Uint8Array(ARRAY_HEADER + encoded.length + 1);
    writeInt(bytes, 0, 4, encoded.length);
    bytes.set(encoded, ARRAY_HEADER);
    symbol = cx.uniqueName(`.str.${cx.strings.size}`);
    cx.strings.set(text, symbol);
    cx.data.push({ name: symbol, section: 'rodata', align: 4, size: bytes.length, bytes, relocations: [] });
  }
  return globalAddress(cx, symbol, ARRAY_HEADER);
}

/** Reads a name, a field, an element, `.length`, or an enum member. */
export function lowerRead(cx: LowerContext, node: ts.Expression, expected?: DType): Value {
  const fb = cx.fb;
  if (ts.isIdentifier(node) || ts.isPropertyAccessExpression(node)) {
    const e = cx.entityOf(node);
    if (e) {
      switch (e.kind) {
        case 'constant': {
          if (e.untyped && expected?.kind === 'int' && fits(e.value, expected))
            return { type: promote(expected), reg: fb.constant(e.value) };
          return { type: e.type, reg: fb.constant(e.value) };
        }
        case 'local': return { type: e.type, reg: readLocal(cx, e) };
        case 'stringConstant': return { type: STRING, reg: stringAddress(cx, e.text) };
        case 'global': return { type: e.type, reg: loadMemory(cx, e.type, globalAddress(cx, e.symbol), 0) };
        case 'static': return { type: e.type, reg: globalAddress(cx, e.symbol, e.offset) };
        case 'function': {
          const dst = fb.newReg();
          fb.emit({ op: 'functionAddress', dst, func: e.irName });
          return { type: { kind: 'function', signature: e.signature }, reg: dst };
        }
        case 'builtin': cx.error(node, 'DSL2006', `'${node.getText()}' is a built-in function: call it`);
        case 'struct': case 'enum': case 'typeAlias':
          cx.error(node, 'DSL2006', `'${node.getText()}' is a type, not a value`);
      }
    }
    if (ts.isIdentifier(node)) cx.error(node, 'DSL2006', `unknown name '${node.text}'`);
  }
  if (ts.isPropertyAccessExpression(node)) {
    const name = node.name.text;
    const object = lowerExpression(cx, node.expression);
    if (name === 'length' && (object.type.kind === 'array' || object.type.kind === 'string')) {
      if (object.type.kind === 'array' && object.type.staticLength !== undefined)
        return { type: I32, reg: fb.constant(object.type.staticLength) };
      const known = knownLength(cx, node.expression);
      if (known !== undefined) return { type: I32, reg: fb.constant(known) };
      return { type: I32, reg: loadMemory(cx, I32, object.reg, -ARRAY_HEADER) };
    }
    if (object.type.kind !== 'struct')
      cx.error(node.name, 'DSL1007', `property '${name}' does not exist on ${typeName(object.type)} `
        + '(only struct fields, .length and .charCodeAt are supported)');
    const f = fieldOf(cx, object.type.def, node);
    if (f.inline !== 'scalar')
      return { type: f.type, reg: f.offset ? fb.binary('add', object.reg, fb.constant(f.offset)) : object.reg };
    return { type: f.type, reg: loadMemory(cx, f.type, object.reg, f.offset) };
  }
  if (ts.isElementAccessExpression(node)) {
    const { type, address } = elementAddress(cx, node);
    if (type.kind === 'struct') return { type, reg: address };
    return { type, reg: loadMemory(cx, type, address, 0) };
  }
  cx.error(node, 'DSL1012', 'unsupported expression');
}

/** The field a property access names (DSL1007 when the struct has none). */
export function fieldOf(cx: LowerContext, def: StructDef, node: ts.PropertyAccessExpression): StructField {
  const f = def.fields.get(node.name.text);
  if (!f) cx.error(node.name, 'DSL1007', `struct '${def.name}' has no field '${node.name.text}'`);
  return f;
}

/**
 * The length of an array named directly by a module-level const in static storage (its length word is
 * never written).
 */
function knownLength(cx: LowerContext, node: ts.Expression): number | undefined {
  while (ts.isParenthesizedExpression(node)) node = node.expression;
  if (!ts.isIdentifier(node) && !ts.isPropertyAccessExpression(node)) return undefined;
  const e = cx.entityOf(node);
  return e?.kind === 'static' && e.type.kind === 'array' ? e.length : undefined;
}

/** Address of a[i], bounds-checked against the array's length. */
function elementAddress(cx: LowerContext, node: ts.ElementAccessExpression):
  { type: DType; address: ir.VReg; plain: boolean } {
  const fb = cx.fb;
  const array = lowerExpression(cx, node.expression);
  if (array.type.kind !== 'array')
    cx.error(node, 'DSL1007', `dynamic property access is not supported: '${node.expression.getText()}' is `
      + `${typeName(array.type)}, not an array`);
  const index = lowerExpression(cx, node.argumentExpression, { expected: I32 });
  if (index.type.kind !== 'int')
    cx.error(node.argumentExpression, 'DSL1007', `an index must be an integer, got ${typeName(index.type)}`);
  const element = array.type.element;
  const stride = element.kind === 'struct' ? element.def.size : storageSize(element);
  // an inline array's length, a static array's (fixed at compile time), or the length word
  const known = array.type.staticLength ?? knownLength(cx, node.expression);
  const length = known !== undefined ? fb.constant(known) : loadMemory(cx, I32, array.reg, -ARRAY_HEADER);
  const ok = fb.newBlock(), bad = fb.newBlock();
  fb.terminate({ op: 'branch', cond: fb.binary('ltu', index.reg, length), ifTrue: ok.id, ifFalse: bad.id });
  fb.switchTo(bad);
  fb.emit({ op: 'trap', kind: ir.TRAP_BOUNDS });
  fb.terminate({ op: 'unreachable' });
  fb.switchTo(ok);
  const scaled = stride === 1 ? index.reg : fb.binary('mul', index.reg, fb.constant(stride));
  return { type: element, address: fb.binary('add', array.reg, scaled), plain: array.type.plain === true };
}

/** The place an assignment, a compound assignment, `++` or `--` writes. */
export function lvalue(cx: LowerContext, node: ts.Expression): LValue {
  const lv = lvalueUnobserved(cx, node);
  cx.options.observer?.typed(node, lv.type);
  return lv;
}

function lvalueUnobserved(cx: LowerContext, node: ts.Expression): LValue {
  const fb = cx.fb;
  if (ts.isParenthesizedExpression(node)) return lvalue(cx, node.expression);
  const name = node.getText();
  if (ts.isIdentifier(node) || (ts.isPropertyAccessExpression(node) && cx.entityOf(node))) {
    const e = cx.entityOf(node);
    if (e?.kind === 'local') {
      if (!e.mutable) cx.error(node, 'DSL2005', `cannot assign to '${e.name}': it is a const`);
      if (e.type.kind === 'array' || e.type.kind === 'struct')
        cx.error(node, 'DSL2005', `cannot assign to '${e.name}': it names storage`);
      return { type: e.type, wraps: false, name, load: () => readLocal(cx, e), store: v => fb.copy(e.reg, v) };
    }
    if (e?.kind === 'global') {
      if (!e.mutable) cx.error(node, 'DSL2005', `cannot assign to '${e.name}': it is a const`);
      const address = globalAddress(cx, e.symbol);
      return {
        type: e.type, wraps: false, name,
        load: () => loadMemory(cx, e.type, address, 0), store: v => storeMemory(cx, e.type, address, 0, v),
      };
    }
    if (e) cx.error(node, 'DSL2005', `cannot assign to '${name}'`);
    cx.error(node, 'DSL2006', `unknown name '${name}'`);
  }
  if (ts.isPropertyAccessExpression(node)) {
    const object = lowerExpression(cx, node.expression);
    if (object.type.kind !== 'struct') cx.error(node.name, 'DSL2005', `cannot assign to '${name}'`);
    const f = fieldOf(cx, object.type.def, node);
    if (f.inline !== 'scalar') cx.error(node, 'DSL2005', `cannot assign to '${name}': it is inline storage`);
    return {
      type: f.type, wraps: true, name,
      load: () => loadMemory(cx, f.type, object.reg, f.offset),
      store: v => storeMemory(cx, f.type, object.reg, f.offset, v),
    };
  }
  if (ts.isElementAccessExpression(node)) {
    const { type, address, plain } = elementAddress(cx, node);
    if (type.kind === 'struct') cx.error(node, 'DSL2005', `cannot assign a whole struct: assign its fields`);
    return {
      type, wraps: !plain, name,
      load: () => loadMemory(cx, type, address, 0), store: v => storeMemory(cx, type, address, 0, v),
    };
  }
  cx.error(node, 'DSL2005', `cannot assign to '${name}'`);
}

/** `const a: i32[] = [1, x, 3]` in a function: frame storage with a length word, elements stored in order. */
export function localArrayLiteral(cx: LowerContext, init: ts.ArrayLiteralExpression, declared: DType | undefined,
  name: string, reg: ir.VReg): DType {
  const fb = cx.fb;
  // undeclared: bool elements when the first is true or false, else i32
  const first = init.elements[0];
  const boolElements = () => init.elements.length && tryConstant(cx, first) === undefined
    && (first.kind === K.TrueKeyword || first.kind === K.FalseKeyword);
  const type: DType = declared ?? { kind: 'array', element: boolElements() ? BOOL : I32 };
  if (type.kind !== 'array')
    cx.error(init, 'DSL2001', `'${name}' is declared ${typeName(type)} but initialized with an array`);
  const element = type.element;
  if (element.kind === 'struct')
    cx.error(init, 'DSL1008', 'arrays of structs cannot be written as literals: use structArray');
  if (init.elements.length === 0)
    cx.error(init, 'DSL2004', 'an array literal needs at least one element (arrays have a fixed size)');
  const size = storageSize(element);
  const slot = fb.newSlot(ARRAY_HEADER + size * init.elements.length, 4, name);
  const header = fb.newReg();
  fb.emit({ op: 'slotAddress', dst: header, slot });
  fb.emit({ op: 'store', width: 4, address: header, offset: 0, value: fb.constant(init.elements.length) });
  fb.emit({ op: 'binary', kind: 'add', dst: reg, a: header, b: fb.constant(ARRAY_HEADER) });
  for (const [i, el] of init.elements.entries()) {
    const v = lowerConverted(cx, el, element, `element ${i} of '${name}'`, { wraps: true });
    storeMemory(cx, element, reg, i * size, v);
  }
  return type;
}

/** A local typed array, struct or struct array in this function's frame, initialized like new would. */
export function frameStorage(cx: LowerContext, shape: StorageShape, name: string): ir.VReg {
  const fb = cx.fb;
  if (shape.type.kind === 'struct') {
    const def = shape.type.def;
    const slot = fb.newSlot(def.size, Math.max(def.align, 4), name);
    const base = fb.newReg();
    fb.emit({ op: 'slotAddress', dst: base, slot });
    initializeStruct(cx, base, def);
    return base;
  }
  const { stride, count } = shape;
  const element = shape.type.element;
  const align = Math.max(4, element.kind === 'struct' ? element.def.align : 4);
  const slot = fb.newSlot(ARRAY_HEADER + stride * count, align, name);
  const header = fb.newReg();
  fb.emit({ op: 'slotAddress', dst: header, slot });
  fb.emit({ op: 'store', width: 4, address: header, offset: 0, value: fb.constant(count) });
  const base = fb.binary('add', header, fb.constant(ARRAY_HEADER));
  const zero = fb.constant(0), bytes = fb.constant(stride * count);
  fb.emit({ op: 'intrinsic', dst: null, name: 'memoryFill', args: [base, zero, bytes] });
  if (element.kind === 'struct') {
    const t = structTemplate(cx, element.def);
    if (!(t.bytes.every(b => b === 0) && t.functions.length === 0)) {
      // for (p = base; p != end; p += stride) initialize(p)
      const p = fb.newReg();
      fb.copy(p, base);
      const end = fb.binary('add', base, fb.constant(stride * count));
      const loop = fb.newBlock(), done = fb.newBlock();
      fb.jumpTo(loop);
      initializeStruct(cx, p, element.def, { alreadyZero: true });
      fb.emit({ op: 'binary', kind: 'add', dst: p, a: p, b: fb.constant(stride) });
      fb.terminate({ op: 'branch', cond: fb.binary('ne', p, end), ifTrue: loop.id, ifFalse: done.id });
      fb.switchTo(done);
    }
  }
  return base;
}

/** Stores a struct's initial bytes (structTemplate) at base; zeroes it first unless `alreadyZero`. */
function initializeStruct(cx: LowerContext, base: ir.VReg, def: StructDef,
  { alreadyZero = false }: { alreadyZero?: boolean } = {}): void {
  const fb = cx.fb;
  if (!alreadyZero)
    fb.emit({ op: 'intrinsic', dst: null, name: 'memoryFill', args: [base, fb.constant(0), fb.constant(def.size)] });
  const t = structTemplate(cx, def);
  for (let offset = 0; offset < t.bytes.length; offset++) {
    if (t.bytes[offset] !== 0)
      fb.emit({ op: 'store', width: 1, address: base, offset, value: fb.constant(t.bytes[offset]) });
  }
  for (const f of t.functions) {
    const address = fb.newReg();
    fb.emit({ op: 'functionAddress', dst: address, func: f.func });
    fb.emit({ op: 'store', width: 4, address: base, offset: f.offset, value: address });
  }
}
