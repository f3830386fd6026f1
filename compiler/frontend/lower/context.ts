// The lowering context: what every room of the front end's lowering reads and writes (compiler/x86's
// FunctionContext is the model). One LowerContext lives for one lowerProgram call. It holds the module
// being built (functions, data symbols, interrupt entries), what each name means (entities, by tsc
// symbol), and the state of the function being lowered (its builder, loops, frame storage, evaluation
// order). The rooms (declarations, constants, globals, statements, expressions, operators, memory,
// calls, builtins) are free functions over it; each reports a user's error with `cx.error`, which
// records a DSL diagnostic and unwinds to the nearest `cx.guard`.
import { ts } from 'ts-morph';
import { resolve } from 'node:path';
import type * as ir from '../../ir.ts';
import type { FunctionBuilder } from '../../builder.ts';
import type { Diagnostic } from '../diagnostics.ts';
import type { DType, IntType, Signature, StructDef } from '../types.ts';
import { DSL_INDEX } from '../load.ts';
import type { LowerOptions } from '../lower.ts';

/** What a name means. */
export type Entity =
  | { kind: 'local'; type: DType; reg: ir.VReg; mutable: boolean; name: string }
  /** A scalar in memory. */
  | { kind: 'global'; type: DType; symbol: string; mutable: boolean; name: string }
  /**
   * An array or struct in static storage: its value is the address; `length` is an array's length (its
   * length word never changes).
   */
  | { kind: 'static'; type: DType; symbol: string; offset: number; name: string; length?: number }
  /**
   * `untyped`: declared without a type (const N = 8, enum members): like a literal, it takes the other
   * operand's type.
   */
  | { kind: 'constant'; type: DType; value: number; name: string; untyped?: boolean }
  /** const NAME = "..." */
  | { kind: 'stringConstant'; text: string; name: string }
  | { kind: 'function'; name: string; irName: string; signature: Signature; decl: ts.FunctionDeclaration }
  | { kind: 'struct'; def: StructDef }
  | { kind: 'enum'; members: Map<string, number> }
  | { kind: 'builtin'; name: string }
  | { kind: 'typeAlias'; decl: ts.TypeAliasDeclaration };

export type FunctionEntity = Entity & { kind: 'function' };

/** A lowered expression: its DSL type and the register holding its value. */
export interface Value { type: DType; reg: ir.VReg }
export type IntValue = Value & { type: IntType };

/**
 * An assignable place. `wraps`: a store of a wider integer wraps to the place's width, as JavaScript's
 * typed arrays do (typed-array elements, struct fields); elsewhere narrowing needs a conversion (DSL2003).
 */
export interface LValue { type: DType; load(): ir.VReg; store(v: ir.VReg): void; wraps: boolean; name: string }

/** Where `break` and `continue` go inside a loop or switch (a switch has no continue target). */
export interface LoopTarget { label?: string; breakBlock: ir.Block; continueBlock?: ir.Block }

/** Thrown by `error` after the diagnostic is recorded; caught by `guard`. */
export class Failure extends Error {}

/** Layout of an array with a length word: [u32 length][elements]; the value points at the elements (ir.ts). */
export { ARRAY_HEADER } from '../../ir.ts';

export class LowerContext {
  diagnostics: Diagnostic[] = [];
  entities = new Map<ts.Symbol, Entity>();
  functions: ir.Function[] = [];
  data: ir.DataSymbol[] = [];
  usedIrNames = new Set<string>();
  strings = new Map<string, string>();
  structs = new Map<ts.ClassDeclaration, StructDef>();
  layingOut = new Set<ts.ClassDeclaration>();
  startupStores: { symbol: string; offset: number; value: number }[] = []; // length words of bss arrays
  runtime = new Map<string, FunctionEntity>();
  interruptEntries = new Map<string, ir.InterruptEntry>();   // by name
  debugStructs = new Map<string, ir.DebugStruct>();         // the structs debug variables name (debug-info.ts)
  constantsDeclared = new Set<ts.VariableDeclaration>();      // module-level constants evaluated up front
  interruptTables = new Map<string, string>();               // handler -> table data symbol
  // per function
  fb!: FunctionBuilder;
  currentFunction!: FunctionEntity;
  loops: LoopTarget[] = [];
  frameLocals = new Set<ir.VReg>();   // registers holding the address of this function's frame storage
  /**
   * Evaluation order (JavaScript's, left to right): a local lives in one register, so reading it as an
   * operand hands out that register. While an operand is lowered, this counts the locals that a later
   * operand of the same expression may assign; a read of one of them takes a copy (`x + x++` is 2x).
   */
  writtenLater = new Map<Entity, number>();
  localsWrittenMemo = new Map<ts.Node, ReadonlySet<Entity> | null>();

  constructor(readonly files: ts.SourceFile[], readonly checker: ts.TypeChecker, readonly options: LowerOptions) {}

  /** Runs f; a user's error inside it (already recorded) ends f only. */
  guard<T>(f: () => T): T | undefined {
    try { return f(); } catch (e) { if (e instanceof Failure) return undefined; throw e; }
  }

  /** Records `file:line:col - error CODE: message` at node and unwinds to the nearest guard. */
  error(node: ts.Node, code: string, message: string): never {
    const file = node.getSourceFile();
    const { line, character } = file.getLineAndCharacterOfPosition(node.getStart(file));
    this.diagnostics.push({ file: file.fileName, line: line + 1, column: character + 1, code, message });
    throw new Failure(message);
  }

  loc(node: ts.Node): ir.SourceLocation {
    const file = node.getSourceFile();
    const { line, character } = file.getLineAndCharacterOfPosition(node.getStart(file));
    return { file: file.fileName, line: line + 1, column: character + 1 };
  }

  /** `name`, or `name.2`, `name.3`, ... when an IR function or data symbol already has it. */
  uniqueName(name: string): string {
    let n = name, i = 2;
    while (this.usedIrNames.has(n)) n = `${name}.${i++}`;
    this.usedIrNames.add(n);
    return n;
  }

  // ==== symbols ==================================================================================

  symbolOf(node: ts.Node): ts.Symbol | undefined {
    let s = this.checker.getSymbolAtLocation(node);
    if (s && s.flags & ts.SymbolFlags.Alias) s = this.checker.getAliasedSymbol(s);
    return s;
  }

  /** What the name at `node` means: a declared entity, a built-in from "dsl", or undefined. */
  entityOf(node: ts.Node): Entity | undefined {
    const s = this.symbolOf(node);
    if (!s) return undefined;
    const known = this.entities.get(s);
    if (known) return known;
    const decl = s.declarations?.[0];
    if (decl && resolve(decl.getSourceFile().fileName) === DSL_INDEX) return { kind: 'builtin', name: s.name };
    return undefined;
  }

  declare(nameNode: ts.Node, entity: Entity): void {
    const s = this.symbolOf(nameNode);
    if (s) this.entities.set(s, entity);
  }

  // ==== the runtime ================================================================================

  isRuntime(file: ts.SourceFile): boolean { return resolve(file.fileName) === resolve(this.options.runtimeFile); }

  runtimeFunction(name: string, at: ts.Node): FunctionEntity {
    const f = this.runtime.get(name);
    if (!f) this.error(at, 'DSL2006', `the runtime (${this.options.runtimeFile}) does not provide '${name}'`);
    return f;
  }
}

/** `const x = ...` (a VariableDeclaration's list carries the const flag). */
export function isConstDeclaration(d: ts.VariableDeclaration): boolean {
  return (d.parent.flags & ts.NodeFlags.Const) !== 0;
}

export function alignUp(n: number, a: number): number { return Math.ceil(n / a) * a; }

/** Little-endian, the low `size` bytes of value at bytes[offset]. */
export function writeInt(bytes: Uint8Array, offset: number, size: number, value: number): void {
  for (let i = 0; i < size; i++) bytes[offset + i] = (value >>> (8 * i)) & 0xff;
}
