// Lowering: type-checks DSL source files (the DSL's own integer types, dsl/README.md) and turns them
// into one IR Module. Requires: tsc and the subset checker found no errors. Guarantees: a Module the IR
// verifier accepts, or DSL2xxx diagnostics. It never reaches back into tsc after this point.
//
// The passes, in order, over one LowerContext (lower/context.ts); each room of lower/ owns one concern:
//   declarations.ts  names of types, struct layouts, signatures, module-level constants and enums
//   constants.ts     constant expressions (initializers, case labels, lengths)
//   globals.ts       module-level variables and their data symbols
//   statements.ts    function bodies and statements
//   expressions.ts   expressions, conditions, conversions; operators.ts the operators
//   memory.ts        reads, places, bounds checks, frame storage; evaluation-order.ts operand order
//   calls.ts         calls; builtins.ts the built-ins from "dsl" and the intrinsics
// An observer (LowerOptions.observer: the TypeScript back end) is told, by the room that learns it, each
// expression's DSL type, each implicit conversion, each folded constant and each built-in called.
// structLayouts lays out the structs alone, for host code that shares them (tools/abi.ts).
import { ts } from 'ts-morph';
import * as ir from '../ir.ts';
import { FunctionBuilder } from '../builder.ts';
import type { Diagnostic } from './diagnostics.ts';
import { type DType, type StructDef, isInt } from './types.ts';
import { type FunctionEntity, Failure, LowerContext } from './lower/context.ts';
import { declareTypes, declareFile, structOf, lowerRuntimeExports, declareConstants } from './lower/declarations.ts';
import { lowerGlobals } from './lower/globals.ts';
import { lowerFunction } from './lower/statements.ts';

export interface LowerOptions {
  /**
   * 'program': __start runs the runtime's programStart, main(), programExit. 'kernel' and 'guest':
   * __start calls `entry(magic, info)`.
   */
  mode: 'program' | 'kernel' | 'guest';
  entry: string;          // 'main' for programs, the kernel's entry function otherwise
  runtimeFile: string;    // the DSL file providing printI32, printString, panicAt, trap, ...
  /** Told the DSL type of every expression lowered (the TypeScript back end, compiler/typescript/emit.ts). */
  observer?: LoweringObserver;
}

/**
 * What the lowering knows about the source and tells an observer: the typed syntax tree that the
 * TypeScript back end re-emits with the DSL's semantics explicit. Nodes are tsc's own.
 */
export interface LoweringObserver {
  /** The source files lowered, in order (the runtime file included). */
  begin(files: readonly ts.SourceFile[]): void;
  /**
   * An expression's DSL type: every expression lowered, each part of a constant expression, every place
   * assigned.
   */
  typed(node: ts.Node, type: DType): void;
  /**
   * The value of `node` converted by the implicit rules to `target` (assignment, argument, return,
   * initializer).
   */
  converted(node: ts.Node, target: DType): void;
  /** A compile-time value: sizeOf(S), a case label (wrapped to the switch's type). */
  folded(node: ts.Node, value: number): void;
  /** A call of a built-in from "dsl" (print, panic, u8, ...). */
  builtin(call: ts.CallExpression, name: string): void;
}

export function lowerProgram(files: ts.SourceFile[], checker: ts.TypeChecker,
  options: LowerOptions): { module?: ir.Module; diagnostics: Diagnostic[] } {
  const cx = new LowerContext(files, checker, options);
  options.observer?.begin(files);
  try {
    // Pass 1: declare every function, struct, enum and type alias so uses may come before declarations.
    for (const file of files) cx.guard(() => declareTypes(cx, file));
    for (const file of files) cx.guard(() => declareFile(cx, file));
    if (cx.diagnostics.length) return { diagnostics: cx.diagnostics };
    // Pass 2: globals (need constants and structs), then function bodies.
    declareConstants(cx);
    for (const file of files) cx.guard(() => lowerGlobals(cx, file));
    if (cx.diagnostics.length) return { diagnostics: cx.diagnostics };
    for (const file of files) lowerRuntimeExports(cx, file);
    for (const file of files)
      for (const s of file.statements)
        if (ts.isFunctionDeclaration(s) && s.body) cx.guard(() => lowerFunction(cx, s));
    if (cx.diagnostics.length) return { diagnostics: cx.diagnostics };
    cx.guard(() => lowerStart(cx));
    if (cx.diagnostics.length) return { diagnostics: cx.diagnostics };
    const trap = cx.runtimeFunction('trap', files[0]);
    return {
      module: {
        functions: cx.functions, data: cx.data, entry: '__start', trapHandler: trap.irName,
        ...(cx.interruptEntries.size ? { interruptEntries: [...cx.interruptEntries.values()] } : {}),
        ...(cx.debugStructs.size ? { debugStructs: [...cx.debugStructs.values()] } : {}),
      },
      diagnostics: [],
    };
  } catch (e) {
    if (e instanceof Failure) return { diagnostics: cx.diagnostics };
    throw e;
  }
}

/**
 * The layout of every struct declared in `files`, by class name, exactly as lowering lays it out: for
 * host code that shares a DSL struct with compiled code (tools/abi.ts: the guest ABI's BootInfo).
 */
export function structLayouts(
  files: ts.SourceFile[], checker: ts.TypeChecker,
): { layouts: Map<string, StructDef>; diagnostics: Diagnostic[] } {
  const cx = new LowerContext(files, checker, { mode: 'program', entry: '', runtimeFile: '' });
  const layouts = new Map<string, StructDef>();
  for (const file of files) cx.guard(() => declareTypes(cx, file));
  for (const file of files)
    for (const s of file.statements)
      if (ts.isClassDeclaration(s) && s.name) cx.guard(() => layouts.set(s.name!.text, structOf(cx, s)));
  return { layouts, diagnostics: cx.diagnostics };
}

/** __start(magic, info): stores the length words of zeroed arrays, then runs the program or the kernel. */
function lowerStart(cx: LowerContext): void {
  const at = cx.files[0], { entry: entryName, mode } = cx.options;
  const entry = [...cx.entities.values()].find(e => e.kind === 'function' && e.irName === entryName) as
    FunctionEntity | undefined;
  // the debugger shows __start (and _start, x86/lower.ts) at the entry function's declaration
  const fb = cx.fb = new FunctionBuilder(cx.uniqueName('__start'), 2, false, entry ? cx.loc(entry.decl) : undefined);
  fb.at = fb.loc;
  for (const s of cx.startupStores) {
    const address = fb.newReg();
    fb.emit({ op: 'globalAddress', dst: address, symbol: s.symbol });
    fb.emit({ op: 'store', width: 4, address, offset: s.offset, value: fb.constant(s.value) });
  }
  if (!entry)
    cx.error(at, 'DSL2010', `no function '${entryName}' found: `
      + (mode === 'program' ? 'a program exports function main(): i32' : 'the kernel needs its entry function'));
  if (mode === 'program') {
    if (entry.signature.params.length !== 0 || !isInt(entry.signature.result))
      cx.error(entry.decl, 'DSL2010', `'${entryName}' must be declared as function ${entryName}(): i32`);
    // The same rule on every target: under Node a program's module exposes only its exports.
    if (!(ts.getModifiers(entry.decl) ?? []).some(m => m.kind === ts.SyntaxKind.ExportKeyword))
      cx.error(entry.decl.name ?? entry.decl, 'DSL2010',
        `'${entryName}' must be exported: export function ${entryName}(): i32`);
    fb.emit({ op: 'call', dst: null, func: cx.runtimeFunction('programStart', at).irName, args: [] });
    const status = fb.newReg();
    fb.emit({ op: 'call', dst: status, func: entry.irName, args: [] });
    fb.emit({ op: 'call', dst: null, func: cx.runtimeFunction('programExit', at).irName, args: [status] });
    fb.emit({ op: 'trap', kind: ir.TRAP_UNREACHABLE });
    fb.terminate({ op: 'unreachable' });
  } else {
    const params = entry.signature.params.length;
    const args = params === 2 ? [0, 1] : params === 0 ? []
      : cx.error(entry.decl, 'DSL2010', `'${entryName}' takes (multibootMagic: u32, multibootInfo: u32) or nothing`);
    const dst = entry.signature.result.kind === 'void' ? null : fb.newReg();
    fb.emit({ op: 'call', dst, func: entry.irName, args });
    fb.terminate({ op: 'return', value: null });
  }
  cx.functions.push(fb.finish());
}
