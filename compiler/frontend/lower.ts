// Lowering: type-checks DSL source files (the DSL's own integer types, dsl/README.md) and turns them
// into one IR Module. Requires: tsc and the subset checker found no errors. Guarantees: a Module the IR
// verifier accepts, or DSL2xxx diagnostics. It never reaches back into tsc after this point.
import { ts } from 'ts-morph';
import * as ir from '../ir.ts';
import { FunctionBuilder } from '../builder.ts';
import type { Diagnostic } from './diagnostics.ts';
import {
  type DType, type IntType, type StructDef,
  I32, U32, BOOL, STRING, isInt, typeName, sameType, fits, wrapTo,
  promote, arithmeticResult, implicitlyConvertible,
} from './types.ts';
import {
  type FunctionEntity, type Value, type LValue, type LoopTarget, Failure, LowerContext,
} from './lower/context.ts';
import { lowerCall } from './lower/calls.ts';
import { tryConstant, isLiteral } from './lower/constants.ts';
import {
  declareTypes, declareFile, structOf, lowerRuntimeExports, declareConstants, resolveType, checkSignature,
} from './lower/declarations.ts';
import { lowerGlobals, zeroInitializer, storageShape } from './lower/globals.ts';
import { stringAddress, lowerRead, lvalue, localArrayLiteral, frameStorage } from './lower/memory.ts';
import { lowerBinary } from './lower/operators.ts';

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
      case K.ExpressionStatement: this.lowerExpression((s as ts.ExpressionStatement).expression, undefined, true); return;
      case K.ReturnStatement: return this.lowerReturn(s as ts.ReturnStatement);
      case K.IfStatement: {
        const st = s as ts.IfStatement;
        const then = this.fb.newBlock(this.loc(st.thenStatement)), done = this.fb.newBlock();
        const otherwise = st.elseStatement ? this.fb.newBlock(this.loc(st.elseStatement)) : done;
        this.lowerCondition(st.expression, then, otherwise);
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
        this.lowerCondition(st.expression, body, done);
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
        this.lowerCondition(st.expression, body, done);
        this.fb.switchTo(done);
        return;
      }
      case K.ForStatement: {
        const st = s as ts.ForStatement;
        if (st.initializer) {
          if (ts.isVariableDeclarationList(st.initializer)) this.lowerLocalList(st.initializer);
          else this.lowerExpression(st.initializer, undefined, true);
        }
        const header = this.fb.newBlock(this.loc(st)), body = this.fb.newBlock(this.loc(st.statement));
        const update = this.fb.newBlock(st.incrementor ? this.loc(st.incrementor) : undefined), done = this.fb.newBlock();
        this.fb.jumpTo(header);
        if (st.condition) this.lowerCondition(st.condition, body, done); else this.fb.terminate({ op: 'jump', target: body.id });
        this.fb.switchTo(body);
        this.inLoop({ label, breakBlock: done, continueBlock: update }, () => this.lowerStatement(st.statement));
        this.fb.jumpTo(update);
        if (st.incrementor) this.lowerExpression(st.incrementor, undefined, true);
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
    const value = this.lowerExpression(st.expression);
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
      this.lowerExpression(st.expression, undefined, true);
      this.fb.terminate({ op: 'return', value: null });
      return;
    }
    const v = this.lowerConverted(st.expression, result, 'return value');
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
        value = { type: declared, reg: this.lowerConverted(init, declared, `'${name}'`) };
      } else {
        value = this.lowerExpression(init);
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

  /** Branches to ifTrue/ifFalse on a condition, short-circuiting && || ! without materializing bools. */
  lowerCondition(node: ts.Expression, ifTrue: ir.Block, ifFalse: ir.Block): void {
    if (ts.isParenthesizedExpression(node)) return this.lowerCondition(node.expression, ifTrue, ifFalse);
    if (ts.isPrefixUnaryExpression(node) && node.operator === K.ExclamationToken) return this.lowerCondition(node.operand, ifFalse, ifTrue);
    if (ts.isBinaryExpression(node)) {
      const op = node.operatorToken.kind;
      if (op === K.AmpersandAmpersandToken) {
        const right = this.fb.newBlock(this.loc(node.right));
        this.lowerCondition(node.left, right, ifFalse);
        this.fb.switchTo(right);
        return this.lowerCondition(node.right, ifTrue, ifFalse);
      }
      if (op === K.BarBarToken) {
        const right = this.fb.newBlock(this.loc(node.right));
        this.lowerCondition(node.left, ifTrue, right);
        this.fb.switchTo(right);
        return this.lowerCondition(node.right, ifTrue, ifFalse);
      }
    }
    if (node.kind === K.TrueKeyword) { this.fb.terminate({ op: 'jump', target: ifTrue.id }); return; }
    if (node.kind === K.FalseKeyword) { this.fb.terminate({ op: 'jump', target: ifFalse.id }); return; }
    const v = this.lowerExpression(node);
    if (v.type.kind !== 'bool' && v.type.kind !== 'int') this.error(node, 'DSL2001', `a condition must be bool or an integer, got ${typeName(v.type)}`);
    this.fb.terminate({ op: 'branch', cond: v.reg, ifTrue: ifTrue.id, ifFalse: ifFalse.id });
  }

  truth(node: ts.Expression): ir.VReg {
    const v = this.lowerExpression(node);
    if (v.type.kind === 'bool') return v.reg;
    if (v.type.kind === 'int') return this.fb.binary('ne', v.reg, this.fb.constant(0));
    this.error(node, 'DSL2001', `a condition must be bool or an integer, got ${typeName(v.type)}`);
  }

  // ==== conversions ================================================================================

  /** Lowers `node` and converts it to `target` by the implicit rules (a literal takes the target type). */
  lowerConverted(node: ts.Expression, target: DType, what: string, wrapAllowed = false): ir.VReg {
    const v = this.lowerExpression(node, target);
    return this.convertImplicit(v, target, node, what, wrapAllowed);
  }

  convertImplicit(v: Value, target: DType, node: ts.Expression, what: string, wrapAllowed = false): ir.VReg {
    this.options.observer?.converted(node, target);
    if (target.kind === 'int' && v.type.kind === 'int') {
      if (implicitlyConvertible(v.type, target)) return v.reg;
      const c = tryConstant(this, node);
      if (c && fits(c.value, target)) return v.reg;
      if (c && !wrapAllowed) this.error(node, 'DSL2002', `constant ${c.value} is out of range for ${typeName(target)} (${what})`);
      if (wrapAllowed) return this.convertExplicit(v, target);
      this.error(node, 'DSL2003', `narrowing ${typeName(v.type)} to ${typeName(target)} needs an explicit conversion: ${typeName(target)}(...) (${what})`);
    }
    if (target.kind === 'function' && v.type.kind === 'function') { checkSignature(this, node, v.type.signature, target.signature); return v.reg; }
    if (target.kind === 'array' && v.type.kind === 'array' && v.type.staticLength !== undefined && sameType(target, v.type))
      this.error(node, 'DSL2001', 'an array field inside a struct cannot be passed as a value: index it, or pass the struct');
    if (!sameType(v.type, target)) this.error(node, 'DSL2001', `type mismatch: ${what} expects ${typeName(target)}, got ${typeName(v.type)}`);
    return v.reg;
  }

  /** u8(x) and friends: wrap to the width, like a C cast. */
  /**
   * `u32(c ? a : b)` as `c ? u32(a) : u32(b)`: the same value in JavaScript, and the arms may then differ
   * in sign (each is converted from its own type).
   */
  lowerConvertedConditional(c: ts.ConditionalExpression, target: IntType): Value {
    const fb = this.fb;
    const then = fb.newBlock(this.loc(c.whenTrue)), otherwise = fb.newBlock(this.loc(c.whenFalse)), done = fb.newBlock();
    const result = fb.newReg();
    this.lowerCondition(c.condition, then, otherwise);
    for (const [block, arm] of [[then, c.whenTrue], [otherwise, c.whenFalse]] as const) {
      fb.switchTo(block);
      const v = this.lowerExpression(arm, target);
      if (v.type.kind !== 'int' && v.type.kind !== 'bool') this.error(arm, 'DSL2001', `expected an integer, got ${typeName(v.type)}`);
      fb.copy(result, v.type.kind === 'bool' ? v.reg : this.convertExplicit(v, target));
      fb.terminate({ op: 'jump', target: done.id });
    }
    fb.switchTo(done);
    this.options.observer?.typed(c, target);
    return { type: target, reg: result };
  }

  convertExplicit(v: Value, target: IntType): ir.VReg {
    const fb = this.fb;
    if (target.bits === 32) return v.reg;
    if (v.type.kind === 'int' && v.type.bits <= target.bits && (v.type.signed === target.signed || (!v.type.signed && v.type.bits < target.bits))) return v.reg;
    if (!target.signed) return fb.binary('and', v.reg, fb.constant(target.bits === 8 ? 0xff : 0xffff));
    const shift = fb.constant(32 - target.bits);
    return fb.binary('shrs', fb.binary('shl', v.reg, shift), shift);
  }

  // ==== expressions ================================================================================

  /**
   * Lowers an expression to a register. `expected` lets an integer literal take the type the context
   * wants; `discard` marks expression statements (a void call is fine there).
   */
  lowerExpression(node: ts.Expression, expected?: DType, discard = false): Value {
    const v = this.lowerExpressionUnobserved(node, expected, discard);
    this.options.observer?.typed(node, v.type);
    return v;
  }

  lowerExpressionUnobserved(node: ts.Expression, expected?: DType, discard = false): Value {
    const fb = this.fb;
    if ((ts.isBinaryExpression(node) || ts.isPrefixUnaryExpression(node)) && isLiteral(this, node)) {
      const c = tryConstant(this, node)!;
      const type = expected?.kind === 'int' && fits(c.value, expected) ? promote(expected) : c.type;
      return { type, reg: fb.constant(c.value) };
    }
    switch (node.kind) {
      case K.ParenthesizedExpression: return this.lowerExpression((node as ts.ParenthesizedExpression).expression, expected, discard);
      case K.NumericLiteral: {
        const value = Number((node as ts.NumericLiteral).text);
        let type: IntType;
        if (expected?.kind === 'int' && fits(value, expected)) type = expected.bits === 32 ? expected : promote(expected);
        else if (fits(value, I32)) type = I32;
        else if (fits(value, U32)) type = U32;
        else this.error(node, 'DSL2002', `integer literal ${node.getText()} does not fit in 32 bits`);
        return { type, reg: fb.constant(value) };
      }
      case K.TrueKeyword: return { type: BOOL, reg: fb.constant(1) };
      case K.FalseKeyword: return { type: BOOL, reg: fb.constant(0) };
      case K.StringLiteral: return { type: STRING, reg: stringAddress(this, (node as ts.StringLiteral).text) };
      case K.Identifier: case K.PropertyAccessExpression: case K.ElementAccessExpression:
        return lowerRead(this, node, expected);
      case K.PrefixUnaryExpression: return this.lowerPrefix(node as ts.PrefixUnaryExpression, expected);
      case K.PostfixUnaryExpression: {
        const u = node as ts.PostfixUnaryExpression;
        const lv = lvalue(this, u.operand);
        if (lv.type.kind !== 'int') this.error(u, 'DSL2001', `'${ts.tokenToString(u.operator)}' needs an integer`);
        const old = fb.newReg();
        fb.copy(old, lv.load());
        this.checkStepWidth(u, lv);
        const next = fb.binary(u.operator === K.PlusPlusToken ? 'add' : 'sub', old, fb.constant(1));
        lv.store(next);
        return { type: lv.type, reg: old };
      }
      case K.BinaryExpression: return lowerBinary(this, node as ts.BinaryExpression, expected, discard);
      case K.ConditionalExpression: {
        const c = node as ts.ConditionalExpression;
        const then = fb.newBlock(this.loc(c.whenTrue)), otherwise = fb.newBlock(this.loc(c.whenFalse)), done = fb.newBlock();
        const result = fb.newReg();
        this.lowerCondition(c.condition, then, otherwise);
        const literalLike = (e: ts.Expression) => isLiteral(this, e);
        // The type: the non-literal arm decides; two literals take the expected type.
        let type: DType;
        fb.switchTo(then);
        if (literalLike(c.whenTrue) && !literalLike(c.whenFalse)) {
          // lower the false arm first to learn the type
          fb.switchTo(otherwise);
          const b = this.lowerExpression(c.whenFalse, expected);
          type = b.type.kind === 'int' ? promote(b.type) : b.type;
          fb.copy(result, b.reg); fb.terminate({ op: 'jump', target: done.id });
          fb.switchTo(then);
          fb.copy(result, this.convertImplicit(this.lowerExpression(c.whenTrue, type), type, c.whenTrue, 'conditional'));
          fb.terminate({ op: 'jump', target: done.id });
        } else {
          const a = this.lowerExpression(c.whenTrue, expected);
          type = a.type.kind === 'int' ? promote(a.type) : a.type;
          fb.copy(result, a.reg); fb.terminate({ op: 'jump', target: done.id });
          fb.switchTo(otherwise);
          const b = this.lowerExpression(c.whenFalse, type);
          if (type.kind === 'int' && b.type.kind === 'int' && !sameType(type, promote(b.type))
            && !literalLike(c.whenFalse)) {
            // The value is one arm's, unchanged (JavaScript): no 32-bit type holds every i32 and u32
            // value. `u32(c ? a : b)` is fine: the conversion goes into the arms (lowerBuiltin).
            if (type.signed !== promote(b.type).signed) {
              this.error(c, 'DSL2003', `the arms of '?:' are ${typeName(type)} and ${typeName(b.type)}: no 32-bit `
                + `type holds both; convert one arm or the whole (i32(...) or u32(...))`);
            }
            type = arithmeticResult(type, b.type);
          }
          fb.copy(result, this.convertImplicit(b, type, c.whenFalse, 'conditional'));
          fb.terminate({ op: 'jump', target: done.id });
        }
        fb.switchTo(done);
        return { type, reg: result };
      }
      case K.CallExpression: {
        const v = lowerCall(this, node as ts.CallExpression, expected);
        if (v.type.kind === 'void' && !discard) this.error(node, 'DSL2001', `'${(node as ts.CallExpression).expression.getText()}' returns nothing; its value cannot be used`);
        return v;
      }
      case K.NewExpression: this.error(node, 'DSL1009', "'new' is only supported as the initializer of a variable (new TypedArray(N), new Struct())");
    }
    this.error(node, 'DSL1012', `expression '${K[node.kind]}' is not supported`);
  }

  lowerPrefix(u: ts.PrefixUnaryExpression, expected?: DType): Value {
    const fb = this.fb;
    switch (u.operator) {
      case K.PlusPlusToken: case K.MinusMinusToken: {
        const lv = lvalue(this, u.operand);
        if (lv.type.kind !== 'int') this.error(u, 'DSL2001', `'${ts.tokenToString(u.operator)}' needs an integer`);
        this.checkStepWidth(u, lv);
        const next = fb.binary(u.operator === K.PlusPlusToken ? 'add' : 'sub', lv.load(), fb.constant(1));
        lv.store(next);
        // on a place that wraps, the value is the unwrapped sum (256 for a u8 element holding 255): an i32
        return { type: lv.wraps && lv.type.kind === 'int' ? promote(lv.type) : lv.type, reg: next };
      }
      case K.ExclamationToken: return { type: BOOL, reg: fb.binary('eq', this.truth(u.operand), fb.constant(0)) };
      case K.MinusToken: {
        if (u.operand.kind === K.NumericLiteral) {
          const value = -Number((u.operand as ts.NumericLiteral).text);
          if (!fits(value, I32)) this.error(u, 'DSL2002', `integer literal ${u.getText()} does not fit in i32`);
          return { type: I32, reg: fb.constant(value) };
        }
        const v = this.intOperand(u.operand, '-', expected);
        return { type: promote(v.type), reg: fb.unary('neg', v.reg) };
      }
      case K.PlusToken: { const v = this.intOperand(u.operand, '+', expected); return { type: promote(v.type), reg: v.reg }; }
      case K.TildeToken: { const v = this.intOperand(u.operand, '~'); return { type: I32, reg: fb.unary('not', v.reg) }; }
    }
    this.error(u, 'DSL1012', 'unsupported prefix operator');
  }

  intOperand(node: ts.Expression, op: string, expected?: DType): Value & { type: IntType } {
    const v = this.lowerExpression(node, expected);
    if (v.type.kind === 'string') this.error(node, 'DSL1010', op === '+' ? 'strings cannot be concatenated: print the parts one by one' : `operator '${op}' does not apply to strings`);
    if (v.type.kind !== 'int') this.error(node, 'DSL2001', `operator '${op}' needs integers, got ${typeName(v.type)}`);
    return v as Value & { type: IntType };
  }

  /**
   * `k++` and `k--` are `k = k + 1` and `k = k - 1`: on a u8/i8/u16/i16 variable or plain-array element
   * the i32 sum is narrowed, which needs an explicit conversion (DSL2003) as for the assignment; Node
   * would not wrap it. Typed-array elements and struct fields wrap on store.
   */
  checkStepWidth(u: ts.PrefixUnaryExpression | ts.PostfixUnaryExpression, lv: LValue): void {
    if (lv.type.kind !== 'int' || lv.type.bits === 32 || lv.wraps) return;
    const op = ts.tokenToString(u.operator), step = u.operator === K.PlusPlusToken ? '+' : '-';
    this.error(u, 'DSL2003', `'${op}' on ${typeName(lv.type)} '${lv.name}' narrows i32 to ${typeName(lv.type)}: `
      + `write ${lv.name} = ${typeName(lv.type)}(${lv.name} ${step} 1), or declare it i32`);
  }

  // ==== evaluation order of locals ================================================================
  // ==== reads, lvalues, memory =====================================================================
  // ==== calls ======================================================================================
}
