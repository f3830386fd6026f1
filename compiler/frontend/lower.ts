// Lowering: type-checks DSL source files (the DSL's own integer types, dsl/README.md) and turns them
// into one IR Module. Requires: tsc and the subset checker found no errors. Guarantees: a Module the IR
// verifier accepts, or DSL2xxx diagnostics. It never reaches back into tsc after this point.
import { ts } from 'ts-morph';
import * as ir from '../ir.ts';
import { FunctionBuilder } from '../builder.ts';
import type { Diagnostic } from './diagnostics.ts';
import {
  type DType, type StructDef, isInt
} from './types.ts';
import { type FunctionEntity, Failure, LowerContext } from './lower/context.ts';
import { declareTypes, declareFile, structOf, lowerRuntimeExports, declareConstants } from './lower/declarations.ts';
import { lowerGlobals } from './lower/globals.ts';
import { lowerFunction } from './lower/statements.ts';

const K = ts.SyntaxKind;

export interface LowerOptions {
  /** 'program': __start runs the runtime's programStart, main(), programExit. 'kernel' and 'guest': __start calls `entry(magic, info)`. */
  mode: 'program' | 'kernel' | 'guest';
  entry: string;          // 'main' for programs, the kernel's entry function otherwise
  runtimeFile: string;    // the DSL file providing printI32, printString, panicAt, trap, ...
  /** Told the DSL type of every expression it lowers (the TypeScript back end, compiler/typescript/emit.ts). */
  observer?: LoweringObserver;
}

/**
 * What the lowering knows about the source and tells an observer: the typed syntax tree that the
 * TypeScript back end re-emits with the DSL's semantics explicit. Nodes are tsc's own.
 */
export interface LoweringObserver {
  /** The source files lowered, in order (the runtime file included). */
  begin(files: readonly ts.SourceFile[]): void;
  /** An expression's DSL type: every expression lowered, each part of a constant expression, every place assigned. */
  typed(node: ts.Node, type: DType): void;
  /** The value of `node` converted by the implicit rules to `target` (assignment, argument, return, initializer). */
  converted(node: ts.Node, target: DType): void;
  /** A compile-time value: sizeOf(S), a case label (wrapped to the switch's type). */
  folded(node: ts.Node, value: number): void;
  /** A call of a built-in from "dsl" (print, panic, u8, ...). */
  builtin(call: ts.CallExpression, name: string): void;
}

export function lowerProgram(files: ts.SourceFile[], checker: ts.TypeChecker, options: LowerOptions): { module?: ir.Module; diagnostics: Diagnostic[] } {
  const lowering = new Lowering(files, checker, options);
  return lowering.run();
}

/**
 * The layout of every struct declared in `files`, by class name, exactly as lowering lays it out: for
 * host code that shares a DSL struct with compiled code (tools/abi.ts: the guest ABI's BootInfo).
 */
export function structLayouts(
  files: ts.SourceFile[], checker: ts.TypeChecker,
): { layouts: Map<string, StructDef>; diagnostics: Diagnostic[] } {
  const lowering = new Lowering(files, checker, { mode: 'program', entry: '', runtimeFile: '' });
  const layouts = new Map<string, StructDef>();
  for (const file of files) lowering.guard(() => declareTypes(lowering, file));
  for (const file of files)
    for (const s of file.statements)
      if (ts.isClassDeclaration(s) && s.name) lowering.guard(() => layouts.set(s.name!.text, structOf(lowering, s)));
  return { layouts, diagnostics: lowering.diagnostics };
}

export class Lowering extends LowerContext {
  run(): { module?: ir.Module; diagnostics: Diagnostic[] } {
    this.options.observer?.begin(this.files);
    try {
      // Pass 1: declare every function, struct, enum and type alias so uses may come before declarations.
      for (const file of this.files) this.guard(() => declareTypes(this, file));
      for (const file of this.files) this.guard(() => declareFile(this, file));
      if (this.diagnostics.length) return { diagnostics: this.diagnostics };
      // Pass 2: globals (need constants and structs), then function bodies.
      declareConstants(this);
      for (const file of this.files) this.guard(() => lowerGlobals(this, file));
      if (this.diagnostics.length) return { diagnostics: this.diagnostics };
      for (const file of this.files) lowerRuntimeExports(this, file);
      for (const file of this.files)
        for (const s of file.statements)
          if (ts.isFunctionDeclaration(s) && s.body) this.guard(() => lowerFunction(this, s));
      if (this.diagnostics.length) return { diagnostics: this.diagnostics };
      this.guard(() => this.lowerStart());
      if (this.diagnostics.length) return { diagnostics: this.diagnostics };
      const trap = this.runtimeFunction('trap', this.files[0]);
      return {
        module: {
          functions: this.functions, data: this.data, entry: '__start', trapHandler: trap.irName,
          ...(this.interruptEntries.size ? { interruptEntries: [...this.interruptEntries.values()] } : {}),
        },
        diagnostics: [],
      };
    } catch (e) {
      if (e instanceof Failure) return { diagnostics: this.diagnostics };
      throw e;
    }
  }

  // ==== declarations ===============================================================================
  // ==== types ======================================================================================
  // ==== constants ==================================================================================
  // ==== globals ====================================================================================
  // ==== functions ==================================================================================

  /** __start(magic, info): stores the length words of zeroed arrays, then runs the program or the kernel. */
  lowerStart(): void {
    const at = this.files[0];
    this.fb = new FunctionBuilder(this.uniqueName('__start'), 2, false);
    for (const s of this.startupStores) {
      const address = this.fb.newReg();
      this.fb.emit({ op: 'globalAddress', dst: address, symbol: s.symbol });
      this.fb.emit({ op: 'store', width: 4, address, offset: s.offset, value: this.fb.constant(s.value) });
    }
    const entry = [...this.entities.values()].find(e => e.kind === 'function' && e.irName === this.options.entry) as (FunctionEntity) | undefined;
    if (!entry) this.error(at, 'DSL2010', `no function '${this.options.entry}' found: ${this.options.mode === 'program' ? 'a program exports function main(): i32' : 'the kernel needs its entry function'}`);
    if (this.options.mode === 'program') {
      if (entry.signature.params.length !== 0 || !isInt(entry.signature.result)) this.error(entry.decl, 'DSL2010', `'${this.options.entry}' must be declared as function ${this.options.entry}(): i32`);
      // The same rule on every target: under Node a program's module exposes only its exports.
      if (!(ts.getModifiers(entry.decl) ?? []).some(m => m.kind === K.ExportKeyword))
        this.error(entry.decl.name ?? entry.decl, 'DSL2010',
          `'${this.options.entry}' must be exported: export function ${this.options.entry}(): i32`);
      this.fb.emit({ op: 'call', dst: null, func: this.runtimeFunction('programStart', at).irName, args: [] });
      const status = this.fb.newReg();
      this.fb.emit({ op: 'call', dst: status, func: entry.irName, args: [] });
      this.fb.emit({ op: 'call', dst: null, func: this.runtimeFunction('programExit', at).irName, args: [status] });
      this.fb.emit({ op: 'trap', kind: ir.TRAP_UNREACHABLE });
      this.fb.terminate({ op: 'unreachable' });
    } else {
      const args = entry.signature.params.length === 2 ? [0, 1] : entry.signature.params.length === 0 ? [] : this.error(entry.decl, 'DSL2010', `'${this.options.entry}' takes (multibootMagic: u32, multibootInfo: u32) or nothing`);
      this.fb.emit({ op: 'call', dst: entry.signature.result.kind === 'void' ? null : this.fb.newReg(), func: entry.irName, args });
      this.fb.terminate({ op: 'return', value: null });
    }
    this.functions.push(this.fb.finish());
  }

  // ==== statements =================================================================================
  // ==== conditions =================================================================================
  // ==== conversions ================================================================================
  // ==== expressions ================================================================================
  // ==== evaluation order of locals ================================================================
  // ==== reads, lvalues, memory =====================================================================
  // ==== calls ======================================================================================
}
