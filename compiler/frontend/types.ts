// The DSL's own types (tsc sees every integer as `number`; the compiler gives each its width and sign).
// Rules of conversion and promotion live here, next to the types; dsl/README.md states them for users.

export type IntType = { kind: 'int'; bits: 8 | 16 | 32; signed: boolean };
export type StructField = { name: string; offset: number; type: DType; inline: 'scalar' | 'struct' | 'array'; arrayLength: number };
export type StructDef = { kind: 'structdef'; name: string; size: number; align: number; fields: Map<string, StructField> };
export type Signature = { params: DType[]; result: DType };

export type DType =
  | IntType
  | { kind: 'bool' }
  | { kind: 'void' }
  | { kind: 'string' }
  /** A reference to array elements. `staticLength` set: an inline array (struct field) with no length word. */
  /** `plain`: a `T[]` array (a JavaScript Array under Node, whose elements do not wrap), not a typed array. */
  | { kind: 'array'; element: DType; staticLength?: number; plain?: boolean }
  | { kind: 'struct'; def: StructDef }
  | { kind: 'function'; signature: Signature };

const I8: IntType = { kind: 'int', bits: 8, signed: true };
const U8: IntType = { kind: 'int', bits: 8, signed: false };
const I16: IntType = { kind: 'int', bits: 16, signed: true };
const U16: IntType = { kind: 'int', bits: 16, signed: false };
export const I32: IntType = { kind: 'int', bits: 32, signed: true };
export const U32: IntType = { kind: 'int', bits: 32, signed: false };
export const BOOL: DType = { kind: 'bool' };
export const VOID: DType = { kind: 'void' };
export const STRING: DType = { kind: 'string' };

export const INT_TYPES: Record<string, IntType> = { i8: I8, u8: U8, i16: I16, u16: U16, i32: I32, u32: U32 };
export const TYPED_ARRAYS: Record<string, IntType> = {
  Int8Array: I8, Uint8Array: U8, Int16Array: I16, Uint16Array: U16, Int32Array: I32, Uint32Array: U32,
};

export function isInt(t: DType): t is IntType { return t.kind === 'int'; }

export function typeName(t: DType): string {
  switch (t.kind) {
    case 'int': return `${t.signed ? 'i' : 'u'}${t.bits}`;
    case 'bool': return 'bool';
    case 'void': return 'void';
    case 'string': return 'string';
    case 'array': {
      const element = t.element;
      if (isInt(element) && !t.plain) {
        const name = Object.entries(TYPED_ARRAYS).find(([, v]) => v === element)?.[0];
        if (name) return name;
      }
      return `${typeName(element)}[]`;
    }
    case 'struct': return t.def.name;
    case 'function': return `(${t.signature.params.map(typeName).join(', ')}) => ${typeName(t.signature.result)}`;
  }
}

export function sameType(a: DType, b: DType): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'int': return a.bits === (b as IntType).bits && a.signed === (b as IntType).signed;
    case 'array': return sameType(a.element, (b as typeof a).element);
    case 'struct': return a.def === (b as typeof a).def;
    case 'function': {
      const x = a.signature, y = (b as typeof a).signature;
      return x.params.length === y.params.length && x.params.every((p, i) => sameType(p, y.params[i])) && sameType(x.result, y.result);
    }
    default: return true;
  }
}

/** Bytes a value of this type takes in memory (arrays, structs and functions are 4-byte references). */
export function storageSize(t: DType): number {
  if (t.kind === 'int') return t.bits / 8;
  if (t.kind === 'bool') return 1;
  return 4;
}

function intRange(t: IntType): [number, number] {
  return t.signed ? [-(2 ** (t.bits - 1)), 2 ** (t.bits - 1) - 1] : [0, 2 ** t.bits - 1];
}

export function fits(value: number, t: IntType): boolean {
  const [lo, hi] = intRange(t);
  return value >= lo && value <= hi;
}

/** Wraps a mathematical integer to the type's range (the value a register of that type holds). */
export function wrapTo(value: number, t: IntType): number {
  const bits = t.bits;
  if (bits === 32) return t.signed ? value | 0 : value >>> 0;
  const m = value & ((1 << bits) - 1);
  return t.signed && m >= 1 << (bits - 1) ? m - (1 << bits) : m;
}

/** Arithmetic promotion: small types compute as i32; u32 stays u32. */
export function promote(t: IntType): IntType { return t.bits === 32 ? t : I32; }

/** The type of `a op b` for + - * / %: same 32-bit type stays, anything mixed is i32. */
export function arithmeticResult(a: IntType, b: IntType): IntType {
  const pa = promote(a), pb = promote(b);
  return pa.signed === pb.signed ? pa : I32;
}

/** Implicit conversion allowed without a cast (widening keeping every value, or a 32-bit reinterpretation). */
export function implicitlyConvertible(from: IntType, to: IntType): boolean {
  if (to.bits === 32) return true;
  if (from.bits > to.bits) return false;
  if (from.signed === to.signed) return true;
  return !from.signed && to.signed && from.bits < to.bits;
}
