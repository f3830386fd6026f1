// Function bodies and statements: a function's parameters are its first vregs; locals live in vregs
// (a let of a small integer type computes as i32, as a JavaScript number does; a const keeps its type),
// local storage in frame slots; if/while/do/for/switch become blocks and branches, break and continue
// jump to the innermost (or labelled) loop's blocks; a switch compares its value with each constant
// case label in order, then falls through from body to body. Requires: declarations and globals.
// Guarantees: one IR function per DSL function, every block terminated (a value-returning function
// that falls off its end traps: tsc has proved that unreachable, TS2366).
import { ts } from 'ts-morph';
import * as ir from '../../ir.ts';
import { FunctionBuilder } from '../../builder.ts';
import { type IntType, isInt, typeName, sameType, wrapTo, promote } from '../types.ts';
import type { LowerContext, Entity, FunctionEntity, Value, LoopTarget } from './context.ts';
import { tryConstant } from './constants.ts';
import { resolveType } from './declarations.ts';
import { lowerExpression, lowerCondition, lowerConverted } from './expressions.ts';
import { zeroInitializer, storageShape } from './globals.ts';
import { localArrayLiteral, frameStorage } from './memory.ts';
import { declareVariable } from './debug-info.ts';

const K = ts.SyntaxKind;

/** One DSL function: its parameters are vregs 0..n-1. */
export function lowerFunction(cx: LowerContext, decl: ts.FunctionDeclaration): void {
  const e = cx.entityOf(decl.name!) as FunctionEntity;
  cx.currentFunction = e;
  const returnsValue = e.signature.result.kind !== 'void';
  cx.fb = new FunctionBuilder(e.irName, e.signature.params.length, returnsValue, cx.loc(decl));
  cx.loops = [];
  cx.frameLocals = new Set();
  cx.writtenLater.clear();
  for (const [i, p] of decl.parameters.entries()) {
    if (!ts.isIdentifier(p.name)) cx.error(p, 'DSL1008', 'destructuring is not supported');
    const param = { kind: 'local', type: e.signature.params[i], reg: i, mutable: true, name: p.name.text } as const;
    cx.declare(p.name, param);
    declareVariable(cx, p, param, true);
  }
  lowerBlock(cx, decl.body!);
  cx.fb.at = cx.loc(decl.body!.getLastToken()!); // falling off the end: the closing brace
  if (!cx.fb.isTerminated()) {
    if (returnsValue) {
      // tsc has checked that every path returns (TS2366); a fall-through here is unreachable.
      cx.fb.emit({ op: 'trap', kind: ir.TRAP_UNREACHABLE });
      cx.fb.terminate({ op: 'unreachable' });
    } else cx.fb.terminate({ op: 'return', value: null });
  }
  cx.functions.push(cx.fb.finish());
}

// ==== statements ================================================================================

function lowerBlock(cx: LowerContext, block: ts.Block): void {
  for (const s of block.statements) lowerStatement(cx, s);
}

/** One statement; `label` is the label of a labelled loop or switch (`outer: for (...)`). */
function lowerStatement(cx: LowerContext, s: ts.Statement, label?: string): void {
  if (s.kind !== K.Block) cx.fb.at = cx.loc(s); // the debugger's line of the code that follows
  switch (s.kind) {
    case K.Block: return lowerBlock(cx, s as ts.Block);
    case K.EmptyStatement: return;
    case K.VariableStatement: return lowerLocalList(cx, (s as ts.VariableStatement).declarationList);
    case K.ExpressionStatement:
      lowerExpression(cx, (s as ts.ExpressionStatement).expression, { discard: true });
      return;
    case K.ReturnStatement: return lowerReturn(cx, s as ts.ReturnStatement);
    case K.IfStatement: return lowerIf(cx, s as ts.IfStatement);
    case K.WhileStatement: return lowerWhile(cx, s as ts.WhileStatement, label);
    case K.DoStatement: return lowerDo(cx, s as ts.DoStatement, label);
    case K.ForStatement: return lowerFor(cx, s as ts.ForStatement, label);
    case K.LabeledStatement: {
      const st = s as ts.LabeledStatement;
      return lowerStatement(cx, st.statement, st.label.text);
    }
    case K.BreakStatement: case K.ContinueStatement: return lowerBreakOrContinue(cx, s as ts.BreakOrContinueStatement);
    case K.SwitchStatement: return lowerSwitch(cx, s as ts.SwitchStatement, label);
    case K.FunctionDeclaration: cx.error(s, 'DSL1003', 'nested functions are not supported');
  }
  cx.error(s, 'DSL1012', `statement '${K[s.kind]}' is not supported`);
}

function lowerIf(cx: LowerContext, st: ts.IfStatement): void {
  const fb = cx.fb;
  const then = fb.newBlock(cx.loc(st.thenStatement)), done = fb.newBlock();
  const otherwise = st.elseStatement ? fb.newBlock(cx.loc(st.elseStatement)) : done;
  lowerCondition(cx, st.expression, then, otherwise);
  fb.switchTo(then);
  lowerStatement(cx, st.thenStatement);
  fb.jumpTo(done);
  if (st.elseStatement) {
    fb.switchTo(otherwise);
    lowerStatement(cx, st.elseStatement);
    fb.jumpTo(done);
  }
  fb.switchTo(done);
}

/** header: test -> body | done; body: ... -> header (continue: header). */
function lowerWhile(cx: LowerContext, st: ts.WhileStatement, label?: string): void {
  const fb = cx.fb;
  const header = fb.newBlock(cx.loc(st)), body = fb.newBlock(cx.loc(st.statement)), done = fb.newBlock();
  fb.jumpTo(header);
  fb.at = cx.loc(st.expression);
  lowerCondition(cx, st.expression, body, done);
  fb.switchTo(body);
  inLoop(cx, { label, breakBlock: done, continueBlock: header }, () => lowerStatement(cx, st.statement));
  fb.jumpTo(header);
  fb.switchTo(done);
}

/** body: ... -> test; test -> body | done (continue: test). */
function lowerDo(cx: LowerContext, st: ts.DoStatement, label?: string): void {
  const fb = cx.fb;
  const body = fb.newBlock(cx.loc(st.statement)), test = fb.newBlock(cx.loc(st.expression)), done = fb.newBlock();
  fb.jumpTo(body);
  inLoop(cx, { label, breakBlock: done, continueBlock: test }, () => lowerStatement(cx, st.statement));
  fb.jumpTo(test);
  fb.at = cx.loc(st.expression);
  lowerCondition(cx, st.expression, body, done);
  fb.switchTo(done);
}

/** initializer; header: test -> body | done; body: ... -> update; update: ... -> header (continue: update). */
function lowerFor(cx: LowerContext, st: ts.ForStatement, label?: string): void {
  const fb = cx.fb;
  if (st.initializer) {
    if (ts.isVariableDeclarationList(st.initializer)) lowerLocalList(cx, st.initializer);
    else lowerExpression(cx, st.initializer, { discard: true });
  }
  const header = fb.newBlock(cx.loc(st)), body = fb.newBlock(cx.loc(st.statement));
  const update = fb.newBlock(st.incrementor ? cx.loc(st.incrementor) : undefined), done = fb.newBlock();
  fb.jumpTo(header);
  if (st.condition) fb.at = cx.loc(st.condition);
  if (st.condition) lowerCondition(cx, st.condition, body, done); else fb.terminate({ op: 'jump', target: body.id });
  fb.switchTo(body);
  inLoop(cx, { label, breakBlock: done, continueBlock: update }, () => lowerStatement(cx, st.statement));
  fb.jumpTo(update);
  if (st.incrementor) fb.at = cx.loc(st.incrementor);
  if (st.incrementor) lowerExpression(cx, st.incrementor, { discard: true });
  fb.terminate({ op: 'jump', target: header.id });
  fb.switchTo(done);
}

/** A jump to the innermost loop (or switch, for break), or to the one labelled. */
function lowerBreakOrContinue(cx: LowerContext, st: ts.BreakOrContinueStatement): void {
  const isBreak = st.kind === K.BreakStatement;
  const word = isBreak ? 'break' : 'continue';
  const candidates = [...cx.loops].reverse()
    .filter(l => (st.label ? l.label === st.label.text : true) && (isBreak || l.continueBlock));
  const target = candidates[0];
  if (!target)
    cx.error(st, 'DSL2008', st.label ? `unknown label '${st.label.text}' for '${word}'`
      : `'${word}' outside a ${isBreak ? 'loop or switch' : 'loop'}`);
  cx.fb.terminate({ op: 'jump', target: (isBreak ? target.breakBlock : target.continueBlock!).id });
}

/** Runs body with target as the innermost loop (or switch). */
function inLoop(cx: LowerContext, target: LoopTarget, body: () => void): void {
  cx.loops.push(target);
  try { body(); } finally { cx.loops.pop(); }
}

/**
 * switch: the value compared with each case label in order (a chain of branches), then the default;
 * each body falls through to the next; break leaves the switch.
 */
function lowerSwitch(cx: LowerContext, st: ts.SwitchStatement, label?: string): void {
  const value = lowerExpression(cx, st.expression);
  if (!isInt(value.type)) cx.error(st.expression, 'DSL2001', `switch needs an integer, got ${typeName(value.type)}`);
  const done = cx.fb.newBlock();
  const clauses = st.caseBlock.clauses;
  const bodies = clauses.map(c => cx.fb.newBlock(cx.loc(c)));
  const seen = new Set<number>();
  let defaultBody = done;
  for (const [i, c] of clauses.entries()) {
    if (ts.isDefaultClause(c)) { defaultBody = bodies[i]; continue; }
    const k = tryConstant(cx, c.expression);
    if (!k) cx.error(c.expression, 'DSL2011', 'a case label must be a constant');
    const v = wrapTo(k.value, value.type as IntType);
    cx.options.observer?.folded(c.expression, v);
    if (seen.has(v)) cx.error(c.expression, 'DSL2008', `duplicate case ${k.value}`);
    seen.add(v);
    const next = cx.fb.newBlock();
    const test = cx.fb.binary('eq', value.reg, cx.fb.constant(v));
    cx.fb.terminate({ op: 'branch', cond: test, ifTrue: bodies[i].id, ifFalse: next.id });
    cx.fb.switchTo(next);
  }
  cx.fb.terminate({ op: 'jump', target: defaultBody.id });
  inLoop(cx, { label, breakBlock: done }, () => {
    for (const [i, c] of clauses.entries()) {
      cx.fb.switchTo(bodies[i]);
      for (const s of c.statements) lowerStatement(cx, s);
      cx.fb.terminate({ op: 'jump', target: (bodies[i + 1] ?? done).id }); // fall-through
    }
  });
  cx.fb.switchTo(done);
}

function lowerReturn(cx: LowerContext, st: ts.ReturnStatement): void {
  const result = cx.currentFunction.signature.result;
  if (!st.expression) {
    if (result.kind !== 'void')
      cx.error(st, 'DSL2009', `function '${cx.currentFunction.name}' must return ${typeName(result)}`);
    cx.fb.terminate({ op: 'return', value: null });
    return;
  }
  if (result.kind === 'void') {
    lowerExpression(cx, st.expression, { discard: true });
    cx.fb.terminate({ op: 'return', value: null });
    return;
  }
  const v = lowerConverted(cx, st.expression, result, 'return value');
  if ((result.kind === 'struct' || result.kind === 'array') && cx.frameLocals.has(v))
    cx.error(st.expression, 'DSL2012', `'${st.expression.getText()}' lives in this function's frame and cannot be `
      + 'returned: create it in the caller (or at module level) and pass it in');
  cx.fb.terminate({ op: 'return', value: v });
}

/** `let`/`const` declarations in a function: locals in vregs, local storage in frame slots. */
function lowerLocalList(cx: LowerContext, list: ts.VariableDeclarationList): void {
  const isConst = (list.flags & ts.NodeFlags.Const) !== 0;
  for (const d of list.declarations) {
    if (!ts.isIdentifier(d.name)) cx.error(d, 'DSL1008', 'destructuring is not supported');
    const name = d.name.text;
    const declared = d.type ? resolveType(cx, d.type) : undefined;
    if (!d.initializer) {
      zeroInitializer(cx, d, declared);
      const reg = cx.fb.newReg();
      cx.fb.emit({ op: 'const', dst: reg, value: 0 });
      declareLocal(cx, d, { kind: 'local', type: declared!, reg, mutable: true, name });
      continue;
    }
    const init = d.initializer;
    if (ts.isArrayLiteralExpression(init)) {
      const reg = cx.fb.newReg();
      const type = localArrayLiteral(cx, init, declared, name, reg);
      cx.frameLocals.add(reg);
      declareLocal(cx, d, { kind: 'local', type, reg, mutable: false, name });
      continue;
    }
    const shape = storageShape(cx, init);
    if (shape) {
      if (declared && !sameType(declared, shape.type))
        cx.error(init, 'DSL2001',
          `'${name}' is declared ${typeName(declared)} but initialized with ${typeName(shape.type)}`);
      const reg = cx.fb.newReg();
      cx.fb.copy(reg, frameStorage(cx, shape, name));
      cx.frameLocals.add(reg);
      declareLocal(cx, d, { kind: 'local', type: shape.type, reg, mutable: !isConst, name });
      continue;
    }
    let value: Value;
    if (declared) {
      if (declared.kind === 'void') cx.error(d, 'DSL2001', 'a variable cannot be void');
      value = { type: declared, reg: lowerConverted(cx, init, declared, `'${name}'`) };
    } else {
      value = lowerExpression(cx, init);
      if (value.type.kind === 'void') cx.error(init, 'DSL2001', `'${init.getText()}' has no value`);
      // A `let` of a small type computes as i32 (as in JavaScript, where it is a number); a `const` keeps it.
      if (value.type.kind === 'int' && value.type.bits < 32 && !isConst)
        value = { type: promote(value.type), reg: value.reg };
    }
    const reg = cx.fb.newReg();
    cx.fb.copy(reg, value.reg);
    declareLocal(cx, d, { kind: 'local', type: value.type, reg, mutable: !isConst, name });
  }
}

function declareLocal(cx: LowerContext, d: ts.VariableDeclaration, local: Entity & { kind: 'local' }): void {
  cx.declare(d.name, local);
  declareVariable(cx, d, local, false);
}
