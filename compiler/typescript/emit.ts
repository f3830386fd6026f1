// The TypeScript back end: the faithful mode of `denali run --target node` (dsl/README.md, "Running under
// Node"). Each DSL source file is emitted again as TypeScript whose meaning under Node is the DSL's:
//  - `+ - *` wrap to the operation's 32-bit type (`| 0`, `>>> 0`, Math.imul); `/ %` truncate and trap on a
//    zero divisor (dsl/faithful.ts); unary minus wraps; Math.abs(INT_MIN) is INT_MIN;
//  - an implicit conversion between i32 and u32 (assignment, argument, return, initializer, ?: arm, the
//    operands of || and &&) re-reads the bits; a narrow struct-field store wraps to the field's width
//    (typed arrays wrap by themselves); a case label is its value wrapped to the switch's type;
//  - every index is bounds-checked (typed arrays, T[] arrays, struct arrays, charCodeAt) and traps;
//  - `++ -- += ...` compute in the DSL's arithmetic; a place that is read and written (`a[f()] += 1`)
//    evaluates its array and index once, into temporaries of the enclosing function;
//  - panic, exit and traps throw ProgramStop (dsl/faithful.ts).
// Everything else is the source itself, operands in their order: evaluation order stays JavaScript's.
// Requires: the program was lowered with a TypeRecorder as observer (compile({ observer })): the DSL
// type of every expression, every implicit conversion and folded constant. Guarantees: one TypeScript
// file per DSL file (the runtime file excepted), at the same relative path under the output directory,
// importing dsl/faithful.ts where the source imports "dsl"; or an Error naming an expression that has no
// recorded type (an expression the lowering did not see: a gap in this back end, never a silent guess).
import { ts } from 'ts-morph';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LoweringObserver } from '../frontend/lower.ts';
import type { Diagnostic } from '../frontend/diagnostics.ts';
import { compile, PROGRAM_RUNTIME } from '../pipeline.ts';
import {
  type DType, type IntType, I32, U32, promote, arithmeticResult, implicitlyConvertible, isInt, typeName,
} from '../frontend/types.ts';

const K = ts.SyntaxKind;
const f = ts.factory;

const FAITHFUL_RUNTIME = resolve(fileURLToPath(new URL('../../dsl/faithful.ts', import.meta.url)));
/** The name the emitted files give the faithful runtime's namespace (a DSL identifier cannot start with `$dsl`). */
const RUNTIME = '$dsl';

/** Records what the lowering tells about each node: the typed syntax tree this back end needs. */
export class TypeRecorder implements LoweringObserver {
  readonly types = new Map<ts.Node, DType>();
  readonly conversions = new Map<ts.Node, DType>();
  readonly values = new Map<ts.Node, number>();
  readonly builtins = new Map<ts.Node, string>();
  files: readonly ts.SourceFile[] = [];
  begin(files: readonly ts.SourceFile[]): void { this.files = files; }
  typed(node: ts.Node, type: DType): void { this.types.set(node, type); }
  converted(node: ts.Node, target: DType): void { this.conversions.set(node, target); }
  folded(node: ts.Node, value: number): void { this.values.set(node, value); }
  builtin(call: ts.CallExpression, name: string): void { this.builtins.set(call, name); }
}

/** One emitted file: the DSL source it comes from and its TypeScript text. */
interface EmittedFile { source: string; text: string }

/** Emits every file the recorder saw except `runtimeFile` (the compiled programs' runtime). */
export function emitFaithful(recorder: TypeRecorder, runtimeFile: string): EmittedFile[] {
  const printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed });
  return recorder.files.filter(file => resolve(file.fileName) !== resolve(runtimeFile)).map(file => {
    const result = ts.transform(file, [context => root => new FileEmitter(recorder, context).sourceFile(root)]);
    const text = printer.printFile(result.transformed[0] as ts.SourceFile);
    result.dispose();
    const header = `// Emitted by compiler/typescript/emit.ts (faithful mode) from ${file.fileName}\n`;
    return { source: resolve(file.fileName), text: header + text };
  });
}

/** Writes the files under `outDir` at their paths relative to the sources' common directory; source -> written path. */
export function writeFaithful(files: EmittedFile[], outDir: string): Map<string, string> {
  const root = files.map(e => dirname(e.source)).reduce(commonDirectory);
  const written = new Map<string, string>();
  // ES modules wherever outDir is (a .ts file outside any package would load as CommonJS)
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  for (const e of files) {
    const path = join(outDir, relative(root, e.source));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, e.text);
    written.set(e.source, path);
  }
  return written;
}

function commonDirectory(a: string, b: string): string {
  const x = a.split('/'), y = b.split('/');
  let n = 0;
  while (n < x.length && n < y.length && x[n] === y[n]) n++;
  return x.slice(0, n).join('/') || '/';
}

type Arith = '+' | '-' | '*' | '/' | '%';
const ARITHMETIC: Partial<Record<ts.SyntaxKind, Arith>> = {
  [K.PlusToken]: '+', [K.MinusToken]: '-', [K.AsteriskToken]: '*', [K.SlashToken]: '/', [K.PercentToken]: '%',
};
/** Integer operators whose left spines are emitted in a loop (the lowering's chains). */
const CHAINED = new Set<ts.SyntaxKind>([K.PlusToken, K.MinusToken, K.AsteriskToken, K.SlashToken, K.PercentToken,
  K.AmpersandToken, K.BarToken, K.CaretToken, K.LessThanLessThanToken, K.GreaterThanGreaterThanToken,
  K.GreaterThanGreaterThanGreaterThanToken]);
/** Compound assignments: the binary operator each one applies. */
const COMPOUND: Partial<Record<ts.SyntaxKind, ts.BinaryOperator>> = {
  [K.PlusEqualsToken]: K.PlusToken, [K.MinusEqualsToken]: K.MinusToken, [K.AsteriskEqualsToken]: K.AsteriskToken,
  [K.SlashEqualsToken]: K.SlashToken, [K.PercentEqualsToken]: K.PercentToken,
  [K.AmpersandEqualsToken]: K.AmpersandToken, [K.BarEqualsToken]: K.BarToken, [K.CaretEqualsToken]: K.CaretToken,
  [K.LessThanLessThanEqualsToken]: K.LessThanLessThanToken,
  [K.GreaterThanGreaterThanEqualsToken]: K.GreaterThanGreaterThanToken,
  [K.GreaterThanGreaterThanGreaterThanEqualsToken]: K.GreaterThanGreaterThanGreaterThanToken,
};
/** Expression kinds whose meaning can differ from JavaScript's; other nodes change only through their parts. */
const REWRITTEN = new Set([K.BinaryExpression, K.PrefixUnaryExpression, K.PostfixUnaryExpression,
  K.ConditionalExpression, K.CallExpression, K.ElementAccessExpression]);

const paren = (e: ts.Expression) => f.createParenthesizedExpression(e);
const runtime = (name: string, args: ts.Expression[]) =>
  f.createCallExpression(f.createPropertyAccessExpression(f.createIdentifier(RUNTIME), name), undefined, args);
const numeric = (v: number): ts.Expression =>
  v < 0 ? paren(f.createPrefixUnaryExpression(K.MinusToken, f.createNumericLiteral(-v))) : f.createNumericLiteral(v);
/** `e` wrapped to a 32-bit type: `(e) | 0` or `(e) >>> 0`. */
const wrap = (t: IntType, e: ts.Expression) => paren(f.createBinaryExpression(paren(e),
  t.signed ? K.BarToken : K.GreaterThanGreaterThanGreaterThanToken, f.createNumericLiteral(0)));
/** The expressions in order, the value of the last (a comma list), or the one expression. */
const sequence = (list: ts.Expression[]) => list.length === 1 ? list[0] : paren(f.createCommaListExpression(list));
const skipParentheses = (e: ts.Expression): ts.Expression =>
  (ts.isParenthesizedExpression(e) ? skipParentheses(e.expression) : e);
const narrow = (t: DType): boolean => isInt(t) && t.bits < 32;

/**
 * A place that an assignment reads and writes, its array/object and index already evaluated (`setup`).
 * `wraps`: a typed-array element or struct field, which converts what it stores (write(v)'s value is v).
 */
interface Place {
  setup: ts.Expression[]; type: IntType; wraps: boolean;
  read(): ts.Expression; write(v: ts.Expression): ts.Expression;
}

class FileEmitter {
  private temporaries: string[] | null = null;
  private functionName = '';

  constructor(private readonly recorder: TypeRecorder, private readonly context: ts.TransformationContext) {}

  sourceFile(file: ts.SourceFile): ts.SourceFile {
    const visited = ts.visitEachChild(file, this.visit, this.context);
    const namespace = f.createImportDeclaration(undefined,
      f.createImportClause(false, undefined, f.createNamespaceImport(f.createIdentifier(RUNTIME))),
      f.createStringLiteral(pathToFileURL(FAITHFUL_RUNTIME).href));
    return f.updateSourceFile(visited, [namespace, ...visited.statements]);
  }

  private readonly visit = (node: ts.Node): ts.Node => {
    if (ts.isImportDeclaration(node) && (node.moduleSpecifier as ts.StringLiteral).text === 'dsl') {
      return f.updateImportDeclaration(node, node.modifiers, node.importClause,
        f.createStringLiteral(pathToFileURL(FAITHFUL_RUNTIME).href), node.attributes);
    }
    if (ts.isFunctionDeclaration(node) && node.body) return this.functionDeclaration(node);
    if (ts.isVariableDeclaration(node) && !node.initializer && this.recorder.types.has(node.name)) {
      // `let x: i32;` starts at zero (JavaScript would start it at undefined)
      const start = this.recorder.types.get(node.name)!.kind === 'bool' ? f.createFalse() : f.createNumericLiteral(0);
      return f.updateVariableDeclaration(node, node.name, node.exclamationToken, node.type, start);
    }
    if (ts.isCaseClause(node) && this.recorder.values.has(node.expression)) {
      return f.updateCaseClause(node, numeric(this.recorder.values.get(node.expression)!),
        node.statements.map(s => ts.visitNode(s, this.visit) as ts.Statement));
    }
    if (REWRITTEN.has(node.kind) || (this.recorder.conversions.has(node) && ts.isExpression(node))) {
      return this.convert(node as ts.Expression, this.rewrite(node as ts.Expression));
    }
    return ts.visitEachChild(node, this.visit, this.context);
  };

  /** A function, with the temporaries its places needed declared first. */
  private functionDeclaration(node: ts.FunctionDeclaration): ts.FunctionDeclaration {
    const saved = [this.temporaries, this.functionName] as const;
    this.temporaries = [];
    this.functionName = node.name?.text ?? '?';
    const visited = ts.visitEachChild(node, this.visit, this.context);
    let body = visited.body!;
    if (this.temporaries.length) {
      const declarations = this.temporaries.map(n =>
        f.createVariableDeclaration(n, undefined, f.createKeywordTypeNode(K.AnyKeyword)));
      const list = f.createVariableDeclarationList(declarations, ts.NodeFlags.Let);
      body = f.updateBlock(body, [f.createVariableStatement(undefined, list), ...body.statements]);
    }
    [this.temporaries, this.functionName] = saved;
    return f.updateFunctionDeclaration(visited, visited.modifiers, visited.asteriskToken, visited.name,
      visited.typeParameters, visited.parameters, visited.type, body);
  }

  private temporary(): ts.Identifier {
    if (!this.temporaries) throw new Error('faithful emit: a temporary is needed outside a function');
    const name = `${RUNTIME}${this.temporaries.length}`;
    this.temporaries.push(name);
    return f.createIdentifier(name);
  }

  private sub(node: ts.Expression): ts.Expression { return ts.visitNode(node, this.visit) as ts.Expression; }

  private typeOf(node: ts.Node): DType {
    const t = this.recorder.types.get(node);
    if (!t) {
      const file = node.getSourceFile(), at = file.getLineAndCharacterOfPosition(node.getStart(file));
      const where = `${file.fileName}:${at.line + 1}:${at.character + 1}`;
      throw new Error(`faithful emit: no DSL type recorded for '${node.getText()}' at ${where}`);
    }
    return t;
  }

  private intTypeOf(node: ts.Node): IntType {
    const t = this.typeOf(node);
    if (!isInt(t)) throw new Error(`faithful emit: '${node.getText()}' is ${typeName(t)}, an integer was expected`);
    return t;
  }

  /** The recorded implicit conversion of `node`'s value, applied to its emitted form `e`. */
  private convert(node: ts.Expression, e: ts.Expression): ts.Expression {
    const target = this.recorder.conversions.get(node), from = this.recorder.types.get(node);
    return target && from && isInt(target) && isInt(from) ? this.as(from, target, e) : e;
  }

  /** `e`, a value of `from`, as a `to`: i32 and u32 re-read each other's bits; a narrowing wraps. */
  private as(from: IntType, to: IntType, e: ts.Expression): ts.Expression {
    if (to.bits === 32) return promote(from).signed === to.signed ? e : wrap(to, e);
    return implicitlyConvertible(from, to) ? e : runtime(typeName(to), [e]);
  }

  private rewrite(node: ts.Expression): ts.Expression {
    if (ts.isBinaryExpression(node)) return this.binary(node);
    if (ts.isPrefixUnaryExpression(node)) {
      if (node.operator === K.PlusPlusToken || node.operator === K.MinusMinusToken) return this.step(node, true);
      if (node.operator === K.MinusToken) {
        const negated = f.createPrefixUnaryExpression(K.MinusToken, paren(this.sub(node.operand)));
        return ts.isNumericLiteral(node.operand) ? negated : wrap(promote(this.intTypeOf(node)), negated);
      }
    }
    if (ts.isPostfixUnaryExpression(node)) return this.step(node, false);
    if (ts.isConditionalExpression(node)) {
      const t = this.typeOf(node);
      const arm = (e: ts.Expression) => isInt(t) ? this.as(this.intTypeOf(e), t, this.sub(e)) : this.sub(e);
      return f.updateConditionalExpression(node, this.sub(node.condition), node.questionToken, arm(node.whenTrue),
        node.colonToken, arm(node.whenFalse));
    }
    if (ts.isCallExpression(node)) return this.call(node);
    if (ts.isElementAccessExpression(node)) {
      const { base, setup } = this.stable(node.expression);
      const index = runtime('index', [base(), this.sub(node.argumentExpression)]);
      return f.createElementAccessExpression(setup ?? base(), index);
    }
    return ts.visitEachChild(node, this.visit, this.context);
  }

  private binary(node: ts.BinaryExpression): ts.Expression {
    const op = node.operatorToken.kind;
    if (op === K.EqualsToken) return this.assign(node);
    const compound = COMPOUND[op];
    if (compound !== undefined) return this.compound(node, compound);
    if (CHAINED.has(op)) return this.chain(node);
    const t = this.recorder.types.get(node);
    if ((op === K.BarBarToken || op === K.AmpersandAmpersandToken) && t && isInt(t)) {
      // two integers: the operand that decided, in the operation's type
      return f.createBinaryExpression(this.as(this.intTypeOf(node.left), t, this.sub(node.left)), op,
        this.as(this.intTypeOf(node.right), t, this.sub(node.right)));
    }
    return f.updateBinaryExpression(node, this.sub(node.left), node.operatorToken, this.sub(node.right));
  }

  /**
   * An integer operator and the operators down its left spine (`a + b - ... + z` nests to the left),
   * emitted bottom-up in a loop: a chain of thousands of operands costs no recursion. A `+` or `-` whose
   * parent in the spine is a `+` or `-` is left unwrapped: the parent's wrap gives the same bits (sums
   * of fewer than 2^21 32-bit values are exact doubles), and the emitted chain stays flat.
   */
  private chain(top: ts.BinaryExpression): ts.Expression {
    const spine = [top];
    for (let left = top.left; ts.isBinaryExpression(left) && CHAINED.has(left.operatorToken.kind); left = left.left) {
      spine.push(left);
    }
    const additive = (b: ts.BinaryExpression | undefined) =>
      b !== undefined && (b.operatorToken.kind === K.PlusToken || b.operatorToken.kind === K.MinusToken);
    let value = this.sub(spine[spine.length - 1].left);
    for (let i = spine.length - 1; i >= 0; i--) {
      const b = spine[i], op = b.operatorToken.kind, arithmetic = ARITHMETIC[op], right = this.sub(b.right);
      if (arithmetic && additive(b) && additive(spine[i - 1])) {
        value = f.createBinaryExpression(value, op, paren(right));
      }
      else if (arithmetic) value = this.arithmetic(arithmetic, this.intTypeOf(b), value, right);
      else value = f.createBinaryExpression(value, op as ts.BinaryOperator, paren(right));
      if (i > 0) value = this.convert(b, value);
    }
    return value;
  }

  /** `l op r` in the 32-bit type `t`. */
  private arithmetic(op: Arith, t: IntType, l: ts.Expression, r: ts.Expression): ts.Expression {
    switch (op) {
      case '+': return wrap(t, f.createBinaryExpression(l, K.PlusToken, r));
      case '-': return wrap(t, f.createBinaryExpression(l, K.MinusToken, paren(r)));
      case '*': {
        const imul = f.createPropertyAccessExpression(f.createIdentifier('Math'), 'imul');
        const product = f.createCallExpression(imul, undefined, [l, r]);
        return t.signed ? product : wrap(t, product);
      }
      case '/': return runtime(t.signed ? 'divideSigned' : 'divideUnsigned', [l, r]);
      case '%': return runtime(t.signed ? 'remainderSigned' : 'remainderUnsigned', [l, r]);
    }
  }

  /**
   * An expression that names the same array or struct wherever it is evaluated (a name, a field of
   * one): used as it is, twice if need be. Anything else is evaluated once into a temporary: `setup`
   * evaluates and stores it, `base()` then reads the temporary.
   */
  private stable(node: ts.Expression): { base: () => ts.Expression; setup?: ts.Expression } {
    const copy = (e: ts.Expression): ts.Expression | undefined => {
      if (ts.isIdentifier(e)) return f.createIdentifier(e.text);
      if (ts.isParenthesizedExpression(e)) return copy(e.expression);
      if (ts.isPropertyAccessExpression(e)) {
        const inner = copy(e.expression);
        return inner && f.createPropertyAccessExpression(inner, e.name.text);
      }
      return undefined;
    };
    if (copy(node)) return { base: () => copy(node)! };
    const t = this.temporary();
    const setup = paren(f.createAssignment(f.createIdentifier(t.text), this.sub(node)));
    return { base: () => f.createIdentifier(t.text), setup };
  }

  /**
   * `place = value`: the place's array and index (or object) first, then the value, as in JavaScript.
   * A typed-array element or an integer struct field wraps the value in the store, and the assignment's
   * value is the right side's, unconverted (JavaScript's); elsewhere the value is converted first.
   */
  private assign(node: ts.BinaryExpression): ts.Expression {
    const left = skipParentheses(node.left);
    const type = this.recorder.types.get(left);
    if (ts.isElementAccessExpression(left)) {
      const array = this.typeOf(left.expression);
      const wraps = array.kind === 'array' && !array.plain && type !== undefined && isInt(type);
      const { base, setup } = this.stable(left.expression);
      const index = runtime('index', [base(), this.sub(left.argumentExpression)]);
      return f.createAssignment(f.createElementAccessExpression(setup ?? base(), index),
        wraps ? this.unconverted(node.right) : this.sub(node.right));
    }
    const field = ts.isPropertyAccessExpression(left) && this.recorder.types.get(left.expression)?.kind === 'struct';
    if (field && ts.isPropertyAccessExpression(left) && type && isInt(type)) {
      const object = this.sub(left.expression), value = this.unconverted(node.right);
      const from = this.intTypeOf(node.right);
      if (!narrow(type) && promote(from).signed === type.signed) {
        return f.createAssignment(f.createPropertyAccessExpression(object, left.name.text), value);
      }
      return runtime('storeField', [object, f.createStringLiteral(left.name.text), value,
        f.createStringLiteral(typeName(type))]);
    }
    return f.updateBinaryExpression(node, this.sub(node.left), node.operatorToken, this.sub(node.right));
  }

  /** An expression without its own recorded conversion (a wrapping store converts what it stores, not the value). */
  private unconverted(node: ts.Expression): ts.Expression {
    return REWRITTEN.has(node.kind) ? this.rewrite(node) : ts.visitEachChild(node, this.visit, this.context);
  }

  /** The place of an assignment that reads it first (compound, ++, --). */
  private place(target: ts.Expression): Place {
    const node = skipParentheses(target);
    const type = this.intTypeOf(node);
    if (ts.isElementAccessExpression(node)) {
      const array = this.typeOf(node.expression);
      const { base, setup } = this.stable(node.expression);
      const i = this.temporary();
      const at = () => f.createElementAccessExpression(base(), f.createIdentifier(i.text));
      return {
        setup: [...(setup ? [setup] : []), f.createAssignment(f.createIdentifier(i.text),
          runtime('index', [base(), this.sub(node.argumentExpression)]))],
        type, wraps: array.kind === 'array' && !array.plain,
        read: at, write: v => f.createAssignment(at(), v),
      };
    }
    if (ts.isPropertyAccessExpression(node) && this.recorder.types.get(node.expression)?.kind === 'struct') {
      const { base, setup } = this.stable(node.expression);
      const field = () => f.createPropertyAccessExpression(base(), node.name.text);
      return {
        setup: setup ? [setup] : [], type, wraps: true, read: field,
        write: v => runtime('storeField',
          [base(), f.createStringLiteral(node.name.text), v, f.createStringLiteral(typeName(type))]),
      };
    }
    const name = () => this.sub(node);
    return { setup: [], type, wraps: false, read: name, write: v => f.createAssignment(name(), v) };
  }

  /**
   * `place op= value`: computed in the DSL's arithmetic. A typed-array element or a struct field wraps
   * the result in the store and the assignment's value is the result itself (JavaScript's); a variable
   * or T[] element holds the result converted to its type, and that is the value.
   */
  private compound(node: ts.BinaryExpression, op: ts.BinaryOperator): ts.Expression {
    const place = this.place(node.left);
    const right = this.intTypeOf(node.right);
    const arithmetic = ARITHMETIC[op];
    const result = arithmetic ? arithmeticResult(place.type, right)
      : op === K.GreaterThanGreaterThanGreaterThanToken ? U32 : I32;
    const value = arithmetic
      ? this.arithmetic(arithmetic, result, place.read(), this.sub(node.right))
      : paren(f.createBinaryExpression(place.read(), op, paren(this.sub(node.right))));
    // The value of the assignment: the result, in the place's type unless the place narrows it in the store.
    return sequence([...place.setup, place.write(place.wraps ? value : this.as(result, place.type, value))]);
  }

  /** `++x`, `x--`, ...: x + 1 in the DSL's arithmetic; a postfix step's value is the old one. */
  private step(node: ts.PrefixUnaryExpression | ts.PostfixUnaryExpression, prefix: boolean): ts.Expression {
    const place = this.place(node.operand);
    const t = promote(place.type);
    const step = node.operator === K.PlusPlusToken ? K.PlusToken : K.MinusToken;
    const next = () => wrap(t, f.createBinaryExpression(place.read(), step, f.createNumericLiteral(1)));
    // a value nobody reads (`i++;`, a for loop's update) needs no copy of the old one
    const discarded = ts.isExpressionStatement(node.parent)
      || (ts.isForStatement(node.parent) && node.parent.incrementor === node);
    if (prefix || discarded) return sequence([...place.setup, place.write(next())]);
    return sequence([...place.setup, runtime('first', [place.read(), place.write(next())])]);
  }

  private call(node: ts.CallExpression): ts.Expression {
    if (this.recorder.values.has(node)) return numeric(this.recorder.values.get(node)!);  // sizeOf(S)
    const builtin = this.recorder.builtins.get(node);
    if (builtin === 'panic') {
      return runtime('panicIn', [this.sub(node.arguments[0]), f.createStringLiteral(this.functionName)]);
    }
    const callee = node.expression;
    if (ts.isPropertyAccessExpression(callee)) {
      if (ts.isIdentifier(callee.expression) && callee.expression.text === 'Math' && callee.name.text === 'abs') {
        const t = this.intTypeOf(node);
        const abs = ts.visitEachChild(node, this.visit, this.context);
        return t.signed ? wrap(t, abs) : abs;        // Math.abs(INT_MIN) wraps to INT_MIN
      }
      if (callee.name.text === 'charCodeAt' && this.recorder.types.get(callee.expression)?.kind === 'string') {
        return runtime('charCodeAt', [this.sub(callee.expression), this.sub(node.arguments[0])]);
      }
    }
    return ts.visitEachChild(node, this.visit, this.context);
  }
}

/**
 * Compiles a DSL program (its entry file; imports are followed) with a TypeRecorder and writes its
 * faithful TypeScript under `outDir`: the path of the entry's emitted file, or the compiler's diagnostics.
 */
export function emitFaithfulProgram(file: string, outDir: string): { entry?: string; diagnostics: Diagnostic[] } {
  const recorder = new TypeRecorder();
  const result = compile({ files: [file], optimize: 0, observer: recorder });
  if (!result.module) return { diagnostics: result.diagnostics };
  const written = writeFaithful(emitFaithful(recorder, PROGRAM_RUNTIME), outDir);
  return { entry: written.get(resolve(file)), diagnostics: [] };
}
