// Lowering: type-checks DSL source files (the DSL's own integer types, dsl/README.md) and turns them
// into one IR Module. Requires: tsc and the subset checker found no errors. Guarantees: a Module the IR
// verifier accepts, or DSL2xxx diagnostics. It never reaches back into tsc after this point.
import { ts } from 'ts-morph';
import * as ir from '../ir.ts';
import { FunctionBuilder } from '../builder.ts';
import type { Diagnostic } from './diagnostics.ts';
import {
  type DType, type IntType, type StructDef, isInt, typeName, sameType, wrapTo,
  promote
} from './types.ts';
import { type FunctionEntity, type Value, type LoopTarget, Failure, LowerContext } from './lower/context.ts';
import { tryConstant } from './lower/constants.ts';
import {
  declareTypes, declareFile, structOf, lowerRuntimeExports, declareConstants, resolveType,
} from './lower/declarations.ts';
import { lowerExpression, lowerCondition, lowerConverted } from './lower/expressions.ts';
import { lowerGlobals, zeroInitializer, storageShape } from './lower/globals.ts';
import { localArrayLiteral, frameStorage } from './lower/memory.ts';

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
          if (ts.isFunctionDeclaration(s) && s.body) this.guard(() => this.lowerFunction(s));
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

  lowerFunction(decl: ts.FunctionDeclaration): void {
    const e = this.entityOf(decl.name!) as FunctionEntity;
    this.currentFunction = e;
    const returnsValue = e.signature.result.kind !== 'void';
    this.fb = new FunctionBuilder(e.irName, e.signature.params.length, returnsValue, this.loc(decl));
    this.loops = [];
    this.frameLocals = new Set();
    this.writtenLater.clear();
    for (const [i, p] of decl.parameters.entries()) {
      if (!ts.isIdentifier(p.name)) this.error(p, 'DSL1008', 'destructuring is not supported');
      this.declare(p.name, { kind: 'local', type: e.signature.params[i], reg: i, mutable: true, name: p.name.text });
    }
    this.lowerBlock(decl.body!);
    if (!this.fb.isTerminated()) {
      if (returnsValue) {
        // tsc has checked that every path returns (TS2366); a fall-through here is unreachable.
        this.fb.emit({ op: 'trap', kind: ir.TRAP_UNREACHABLE });
        this.fb.terminate({ op: 'unreachable' });
      } else this.fb.terminate({ op: 'return', value: null });
    }
    this.functions.push(this.fb.finish());
  }

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

  lowerBlock(block: ts.Block): void { for (const s of block.statements) this.lowerStatement(s); }

  lowerStatement(s: ts.Statement, label?: string): void {
    switch (s.kind) {
      case K.Block: return this.lowerBlock(s as ts.Block);
      case K.EmptyStatement: return;
      case K.VariableStatement: return this.lowerLocalList((s as ts.VariableStatement).declarationList);
      case K.ExpressionStatement: lowerExpression(this, (s as ts.ExpressionStatement).expression, undefined, true); return;
      case K.ReturnStatement: return this.lowerReturn(s as ts.ReturnStatement);
      case K.IfStatement: {
        const st = s as ts.IfStatement;
        const then = this.fb.newBlock(this.loc(st.thenStatement)), done = this.fb.newBlock();
        const otherwise = st.elseStatement ? this.fb.newBlock(this.loc(st.elseStatement)) : done;
        lowerCondition(this, st.expression, then, otherwise);
        this.fb.switchTo(then);
        this.lowerStatement(st.thenStatement);
        this.fb.jumpTo(done);
        if (st.elseStatement) {
          this.fb.switchTo(otherwise);
          this.lowerStatement(st.elseStatement);
          this.fb.jumpTo(done);
        }
        this.fb.switchTo(done);
        return;
      }
      case K.WhileStatement: {
        const st = s as ts.WhileStatement;
        const header = this.fb.newBlock(this.loc(st)), body = this.fb.newBlock(this.loc(st.statement)), done = this.fb.newBlock();
        this.fb.jumpTo(header);
        lowerCondition(this, st.expression, body, done);
        this.fb.switchTo(body);
        this.inLoop({ label, breakBlock: done, continueBlock: header }, () => this.lowerStatement(st.statement));
        this.fb.jumpTo(header);
        this.fb.switchTo(done);
        return;
      }
      case K.DoStatement: {
        const st = s as ts.DoStatement;
        const body = this.fb.newBlock(this.loc(st.statement)), test = this.fb.newBlock(this.loc(st.expression)), done = this.fb.newBlock();
        this.fb.jumpTo(body);
        this.inLoop({ label, breakBlock: done, continueBlock: test }, () => this.lowerStatement(st.statement));
        this.fb.jumpTo(test);
        lowerCondition(this, st.expression, body, done);
        this.fb.switchTo(done);
        return;
      }
      case K.ForStatement: {
        const st = s as ts.ForStatement;
        if (st.initializer) {
          if (ts.isVariableDeclarationList(st.initializer)) this.lowerLocalList(st.initializer);
          else lowerExpression(this, st.initializer, undefined, true);
        }
        const header = this.fb.newBlock(this.loc(st)), body = this.fb.newBlock(this.loc(st.statement));
        const update = this.fb.newBlock(st.incrementor ? this.loc(st.incrementor) : undefined), done = this.fb.newBlock();
        this.fb.jumpTo(header);
        if (st.condition) lowerCondition(this, st.condition, body, done); else this.fb.terminate({ op: 'jump', target: body.id });
        this.fb.switchTo(body);
        this.inLoop({ label, breakBlock: done, continueBlock: update }, () => this.lowerStatement(st.statement));
        this.fb.jumpTo(update);
        if (st.incrementor) lowerExpression(this, st.incrementor, undefined, true);
        this.fb.terminate({ op: 'jump', target: header.id });
        this.fb.switchTo(done);
        return;
      }
      case K.LabeledStatement: {
        const st = s as ts.LabeledStatement;
        return this.lowerStatement(st.statement, st.label.text);
      }
      case K.BreakStatement: case K.ContinueStatement: {
        const st = s as ts.BreakOrContinueStatement;
        const isBreak = s.kind === K.BreakStatement;
        const word = isBreak ? 'break' : 'continue';
        const candidates = [...this.loops].reverse().filter(l => (st.label ? l.label === st.label.text : true) && (isBreak || l.continueBlock));
        const target = candidates[0];
        if (!target) this.error(s, 'DSL2008', st.label ? `unknown label '${st.label.text}' for '${word}'` : `'${word}' outside a ${isBreak ? 'loop or switch' : 'loop'}`);
        this.fb.terminate({ op: 'jump', target: (isBreak ? target.breakBlock : target.continueBlock!).id });
        return;
      }
      case K.SwitchStatement: return this.lowerSwitch(s as ts.SwitchStatement, label);
      case K.FunctionDeclaration: this.error(s, 'DSL1003', 'nested functions are not supported');
    }
    this.error(s, 'DSL1012', `statement '${K[s.kind]}' is not supported`);
  }

  inLoop(target: LoopTarget, body: () => void): void {
    this.loops.push(target);
    try { body(); } finally { this.loops.pop(); }
  }

  lowerSwitch(st: ts.SwitchStatement, label?: string): void {
    const value = lowerExpression(this, st.expression);
    if (!isInt(value.type)) this.error(st.expression, 'DSL2001', `switch needs an integer, got ${typeName(value.type)}`);
    const done = this.fb.newBlock();
    const clauses = st.caseBlock.clauses;
    const bodies = clauses.map(c => this.fb.newBlock(this.loc(c)));
    const seen = new Set<number>();
    let defaultBody = done;
    for (const [i, c] of clauses.entries()) {
      if (ts.isDefaultClause(c)) { defaultBody = bodies[i]; continue; }
      const k = tryConstant(this, c.expression);
      if (!k) this.error(c.expression, 'DSL2011', 'a case label must be a constant');
      const v = wrapTo(k.value, value.type as IntType);
      this.options.observer?.folded(c.expression, v);
      if (seen.has(v)) this.error(c.expression, 'DSL2008', `duplicate case ${k.value}`);
      seen.add(v);
      const next = this.fb.newBlock();
      const test = this.fb.binary('eq', value.reg, this.fb.constant(v));
      this.fb.terminate({ op: 'branch', cond: test, ifTrue: bodies[i].id, ifFalse: next.id });
      this.fb.switchTo(next);
    }
    this.fb.terminate({ op: 'jump', target: defaultBody.id });
    this.inLoop({ label, breakBlock: done }, () => {
      for (const [i, c] of clauses.entries()) {
        this.fb.switchTo(bodies[i]);
        for (const s of c.statements) this.lowerStatement(s);
        this.fb.terminate({ op: 'jump', target: (bodies[i + 1] ?? done).id }); // fall-through
      }
    });
    this.fb.switchTo(done);
  }

  lowerReturn(st: ts.ReturnStatement): void {
    const result = this.currentFunction.signature.result;
    if (!st.expression) {
      if (result.kind !== 'void') this.error(st, 'DSL2009', `function '${this.currentFunction.name}' must return ${typeName(result)}`);
      this.fb.terminate({ op: 'return', value: null });
      return;
    }
    if (result.kind === 'void') {
      lowerExpression(this, st.expression, undefined, true);
      this.fb.terminate({ op: 'return', value: null });
      return;
    }
    const v = lowerConverted(this, st.expression, result, 'return value');
    if ((result.kind === 'struct' || result.kind === 'array') && this.frameLocals.has(v))
      this.error(st.expression, 'DSL2012', `'${st.expression.getText()}' lives in this function's frame and cannot be returned: create it in the caller (or at module level) and pass it in`);
    this.fb.terminate({ op: 'return', value: v });
  }

  lowerLocalList(list: ts.VariableDeclarationList): void {
    const isConst = (list.flags & ts.NodeFlags.Const) !== 0;
    for (const d of list.declarations) {
      if (!ts.isIdentifier(d.name)) this.error(d, 'DSL1008', 'destructuring is not supported');
      const name = d.name.text;
      const declared = d.type ? resolveType(this, d.type) : undefined;
      if (!d.initializer) {
        zeroInitializer(this, d, declared, isConst);
        const reg = this.fb.newReg();
        this.fb.emit({ op: 'const', dst: reg, value: 0 });
        this.declare(d.name, { kind: 'local', type: declared!, reg, mutable: true, name });
        continue;
      }
      const init = d.initializer;
      if (ts.isArrayLiteralExpression(init)) {
        const reg = this.fb.newReg();
        const type = localArrayLiteral(this, init, declared, name, reg);
        this.frameLocals.add(reg);
        this.declare(d.name, { kind: 'local', type, reg, mutable: false, name });
        continue;
      }
      const shape = storageShape(this, init);
      if (shape) {
        if (declared && !sameType(declared, shape.type)) this.error(init, 'DSL2001', `'${name}' is declared ${typeName(declared)} but initialized with ${typeName(shape.type)}`);
        const reg = this.fb.newReg();
        this.fb.copy(reg, frameStorage(this, shape, name));
        this.frameLocals.add(reg);
        this.declare(d.name, { kind: 'local', type: shape.type, reg, mutable: !isConst, name });
        continue;
      }
      let value: Value;
      if (declared) {
        if (declared.kind === 'void') this.error(d, 'DSL2001', 'a variable cannot be void');
        value = { type: declared, reg: lowerConverted(this, init, declared, `'${name}'`) };
      } else {
        value = lowerExpression(this, init);
        if (value.type.kind === 'void') this.error(init, 'DSL2001', `'${init.getText()}' has no value`);
        // A `let` of a small type computes as i32 (as in JavaScript, where it is a number); a `const` keeps it.
        if (value.type.kind === 'int' && value.type.bits < 32 && !isConst) value = { type: promote(value.type), reg: value.reg };
      }
      const reg = this.fb.newReg();
      this.fb.copy(reg, value.reg);
      this.declare(d.name, { kind: 'local', type: value.type, reg, mutable: !isConst, name });
    }
  }

  // ==== conditions =================================================================================
  // ==== conversions ================================================================================
  // ==== expressions ================================================================================
  // ==== evaluation order of locals ================================================================
  // ==== reads, lvalues, memory =====================================================================
  // ==== calls ======================================================================================
}
