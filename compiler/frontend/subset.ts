// The subset checker: walks every DSL source file and rejects each construct outside the DSL with
// `file:line:col - error DSLnnnn: message`. Each rule sits next to the code that checks it; the codes
// are listed in dsl/README.md. Type rules (DSL2xxx) are checked by lowering, which knows the types.
import { ts } from 'ts-morph';
import type { Diagnostic } from './diagnostics.ts';

const K = ts.SyntaxKind;

export function checkSubset(file: ts.SourceFile): Required<Diagnostic>[] {
  const out: Required<Diagnostic>[] = [];
  const report = (node: ts.Node, code: string, message: string) => {
    const start = node.getStart(file);
    const { line, character } = file.getLineAndCharacterOfPosition(start);
    out.push({ file: file.fileName, line: line + 1, column: character + 1, code, message,
      span: { start, length: node.getEnd() - start } });
  };

  // Each rule returns true when it reported (then the node's children are not visited again). The walk
  // keeps its own stack: a chain of thousands of operands must not exhaust the host's.
  let tooDeep = false;
  const visit = (root: ts.Node): void => {
    const stack: { node: ts.Node; depth: number }[] = [{ node: root, depth: 1 }];
    while (stack.length) {
      const { node, depth } = stack.pop()!;
      // ---- DSL1017: nesting deeper than the compiler's walks allow ----
      if (depth > MAX_NESTING) {
        if (!tooDeep) {
          report(node, 'DSL1017', `this expression or statement is nested more than ${MAX_NESTING} levels deep: `
            + `split it (a flat chain such as a + b + ... + z has no limit)`);
        }
        tooDeep = true;
        continue;
      }
      if (checkNode(node, report)) continue;
      const children: ts.Node[] = [];
      ts.forEachChild(node, child => { children.push(child); });
      for (let i = children.length - 1; i >= 0; i--)
        stack.push({ node: children[i], depth: continuesChain(node, children[i]) ? depth : depth + 1 });
    }
  };
  // Top level: only imports, exports of declarations, functions, globals, const enums, structs, type aliases.
  for (const statement of file.statements) {
    switch (statement.kind) {
      case K.ImportDeclaration: case K.FunctionDeclaration: case K.VariableStatement: case K.ClassDeclaration:
      case K.TypeAliasDeclaration: case K.EnumDeclaration: case K.EmptyStatement:
        break;
      case K.ExportDeclaration:
        break;
      case K.ModuleDeclaration:
        report(statement, 'DSL1015', 'namespaces and modules are not supported: use ES modules (one file a module)'); continue;
      case K.ExportAssignment:
        report(statement, 'DSL1016', 'default exports are not supported: export named declarations'); continue;
      case K.InterfaceDeclaration:
        report(statement, 'DSL1004', 'interfaces are not supported: declare a struct as a class with fields only'); continue;
      default:
        report(statement, 'DSL1012', `statements at module level are not supported (${K[statement.kind]}): put code in a function`);
        continue;
    }
    visit(statement);
  }
  return out;
}

type Report = (node: ts.Node, code: string, message: string) => void;

/**
 * The deepest nesting of syntax the lowering accepts (its expression and statement walks recurse on the
 * host's stack). The left spine of an arithmetic chain does not count: lowering walks it in a loop.
 */
const MAX_NESTING = 1000;

const CHAIN_OPERATORS = new Set([
  K.PlusToken, K.MinusToken, K.AsteriskToken, K.SlashToken, K.PercentToken, K.AmpersandToken, K.BarToken, K.CaretToken,
  K.LessThanLessThanToken, K.GreaterThanGreaterThanToken, K.GreaterThanGreaterThanGreaterThanToken,
]);

/** `child` is the left operand of arithmetic `parent` and itself arithmetic: the same chain, the same level. */
function continuesChain(parent: ts.Node, child: ts.Node): boolean {
  return ts.isBinaryExpression(parent) && parent.left === child && ts.isBinaryExpression(child)
    && CHAIN_OPERATORS.has(parent.operatorToken.kind) && CHAIN_OPERATORS.has(child.operatorToken.kind);
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some(m => m.kind === kind);
}

function checkNode(node: ts.Node, report: Report): boolean {
  switch (node.kind) {
    // ---- DSL1001: types that have no fixed machine representation ----
    case K.AnyKeyword: report(node, 'DSL1001', "type 'any' is not supported: give the value a DSL type (i32, u32, bool, ...)"); return true;
    case K.UnknownKeyword: report(node, 'DSL1001', "type 'unknown' is not supported: give the value a DSL type"); return true;
    case K.ObjectKeyword: report(node, 'DSL1001', "type 'object' is not supported: declare a struct"); return true;
    case K.UnionType: report(node, 'DSL1001', 'union types are not supported: a value has exactly one DSL type'); return true;
    case K.IntersectionType: report(node, 'DSL1001', 'intersection types are not supported'); return true;
    case K.TypeLiteral: report(node, 'DSL1001', 'object types are not supported: declare a struct as a class with fields'); return true;
    case K.TupleType: report(node, 'DSL1001', 'tuple types are not supported'); return true;
    case K.NeverKeyword:
      if (node.parent && ts.isFunctionDeclaration(node.parent)) return false; // a function that never returns
      report(node, 'DSL1001', "type 'never' is only allowed as a function's return type"); return true;

    // ---- DSL1002: floating point ----
    case K.NumberKeyword: report(node, 'DSL1002', "type 'number' is a 64-bit float and is not supported: use i32, u32, u8, ..."); return true;
    case K.NumericLiteral: {
      const text = (node as ts.NumericLiteral).getText();
      if (/[.eE]/.test(text) && !/^0[xX]/.test(text)) { report(node, 'DSL1002', `floating-point literal '${text}' is not supported: integers only`); return true; }
      return false;
    }
    case K.AsteriskAsteriskToken: report(node, 'DSL1002', "the '**' operator is not supported (floating point): multiply in a loop"); return true;

    // ---- DSL1003: closures ----
    case K.ArrowFunction: report(node, 'DSL1003', 'closures are not supported: arrow function (write a top-level function and pass its name)'); return true;
    case K.FunctionExpression: report(node, 'DSL1003', 'closures are not supported: function expression (write a top-level function)'); return true;
    case K.FunctionDeclaration:
      if (!ts.isSourceFile(node.parent)) { report(node, 'DSL1003', 'nested functions are not supported (they would be closures): move the function to module level'); return true; }
      if ((node as ts.FunctionDeclaration).asteriskToken) { report(node, 'DSL1011', 'generators are not supported'); return true; }
      if (hasModifier(node, K.AsyncKeyword)) { report(node, 'DSL1011', "'async' functions are not supported"); return true; }
      if (hasModifier(node, K.DeclareKeyword)) { report(node, 'DSL1015', "'declare' is not supported: DSL programs are whole programs"); return true; }
      if (hasModifier(node, K.DefaultKeyword)) { report(node, 'DSL1016', 'default exports are not supported: export named declarations'); return true; }
      return checkFunctionShape(node as ts.FunctionDeclaration, report);

    // ---- DSL1004: classes used as objects ----
    case K.ClassDeclaration: return checkStruct(node as ts.ClassDeclaration, report);
    case K.ClassExpression: report(node, 'DSL1004', 'class expressions are not supported'); return true;
    case K.ThisKeyword: report(node, 'DSL1004', "'this' is not supported: structs have no methods"); return true;
    case K.SuperKeyword: report(node, 'DSL1004', "'super' is not supported: structs have no inheritance"); return true;

    // ---- DSL1005: exceptions ----
    case K.ThrowStatement: report(node, 'DSL1005', "exceptions are not supported: 'throw' (call panic(\"...\") to stop)"); return true;
    case K.TryStatement: report(node, 'DSL1005', "exceptions are not supported: 'try' (return an error code instead)"); return true;

    // ---- DSL1006: iteration protocols ----
    case K.ForInStatement: report(node, 'DSL1006', "'for...in' is not supported: objects have no dynamic keys; use an index loop"); return true;
    case K.ForOfStatement: report(node, 'DSL1006', "'for...of' is not supported: use an index loop over the array"); return true;

    // ---- DSL1008: dynamic objects ----
    case K.ObjectLiteralExpression: report(node, 'DSL1008', 'object literals are not supported: declare a struct and use new S()'); return true;
    case K.SpreadElement: case K.SpreadAssignment: report(node, 'DSL1008', "spread '...' is not supported"); return true;
    case K.ObjectBindingPattern: case K.ArrayBindingPattern: report(node, 'DSL1008', 'destructuring is not supported: read each field'); return true;
    case K.ArrayLiteralExpression: {
      const declaration = node.parent;
      const okay = ts.isVariableDeclaration(declaration) && declaration.initializer === node;
      if (!okay) { report(node, 'DSL1008', 'array literals are only supported as the initializer of an array variable'); return true; }
      return false;
    }

    // ---- DSL1009: values and operators of dynamic JavaScript ----
    case K.NullKeyword: report(node, 'DSL1009', "'null' is not supported: every value has a DSL type"); return true;
    case K.UndefinedKeyword: report(node, 'DSL1009', "'undefined' is not supported"); return true;
    case K.Identifier:
      if ((node as ts.Identifier).text === 'undefined' && !ts.isPropertyAccessExpression(node.parent)) {
        report(node, 'DSL1009', "'undefined' is not supported"); return true;
      }
      if ((node as ts.Identifier).text === 'eval' && ts.isCallExpression(node.parent)) { report(node, 'DSL1012', "'eval' is not supported"); return true; }
      if ((node as ts.Identifier).text === 'require' && ts.isCallExpression(node.parent)) { report(node, 'DSL1016', "'require' is not supported: use import"); return true; }
      return false;
    case K.TypeOfExpression: report(node, 'DSL1009', "'typeof' is not supported: types are static"); return true;
    case K.TypeQuery: report(node, 'DSL1009', "'typeof' in types is not supported"); return true;
    case K.VoidExpression: report(node, 'DSL1009', "'void' expressions are not supported"); return true;
    case K.DeleteExpression: report(node, 'DSL1009', "'delete' is not supported: struct fields are fixed"); return true;
    case K.AsExpression: case K.TypeAssertionExpression: case K.SatisfiesExpression:
      report(node, 'DSL1009', "type assertions are not supported: use an explicit conversion such as u32(x)"); return true;
    case K.NonNullExpression: report(node, 'DSL1009', "non-null assertions are not supported"); return true;
    case K.OptionalType: report(node, 'DSL1013', 'optional elements are not supported'); return true;
    case K.BinaryExpression: {
      const op = (node as ts.BinaryExpression).operatorToken.kind;
      if (op === K.InstanceOfKeyword) { report(node, 'DSL1009', "'instanceof' is not supported: types are static"); return true; }
      if (op === K.InKeyword) { report(node, 'DSL1009', "the 'in' operator is not supported: objects have no dynamic keys"); return true; }
      if (op === K.AsteriskAsteriskToken || op === K.AsteriskAsteriskEqualsToken) { report(node, 'DSL1002', "the '**' operator is not supported (floating point): multiply in a loop"); return true; }
      if (op === K.QuestionQuestionToken || op === K.QuestionQuestionEqualsToken) { report(node, 'DSL1009', "'??' is not supported: there is no null"); return true; }
      if (op === K.BarBarEqualsToken || op === K.AmpersandAmpersandEqualsToken) { report(node, 'DSL1012', 'logical assignment operators are not supported'); return true; }
      return false;
    }
    case K.PropertyAccessExpression:
      if ((node as ts.PropertyAccessExpression).questionDotToken) { report(node, 'DSL1009', "optional chaining '?.' is not supported: there is no null"); return true; }
      if (ts.isPrivateIdentifier((node as ts.PropertyAccessExpression).name)) { report(node, 'DSL1004', 'private fields are not supported'); return true; }
      return false;

    // ---- DSL1010: strings beyond literals ----
    case K.TemplateExpression: case K.NoSubstitutionTemplateLiteral: case K.TaggedTemplateExpression:
      report(node, 'DSL1010', 'template literals are not supported: print the parts one by one'); return true;

    // ---- DSL1011: asynchrony ----
    case K.AwaitExpression: report(node, 'DSL1011', "'await' is not supported"); return true;
    case K.YieldExpression: report(node, 'DSL1011', "'yield' is not supported"); return true;

    // ---- DSL1012: statements of dynamic JavaScript ----
    case K.VariableDeclarationList: {
      const flags = (node as ts.VariableDeclarationList).flags;
      const scoped = flags & ts.NodeFlags.BlockScoped;
      if (scoped === 0) { report(node, 'DSL1012', "'var' is not supported: use let or const"); return true; }
      if (scoped === ts.NodeFlags.Using || scoped === ts.NodeFlags.AwaitUsing) { report(node, 'DSL1012', "'using' declarations are not supported"); return true; }
      for (const d of (node as ts.VariableDeclarationList).declarations) {
        if (!d.initializer && !d.type && ts.isIdentifier(d.name) && !ts.isForInStatement(node.parent) && !ts.isForOfStatement(node.parent)) {
          report(d, 'DSL1012', `variable '${d.name.text}' needs an initializer or a type annotation`); return true;
        }
      }
      return false;
    }
    case K.WithStatement: report(node, 'DSL1012', "'with' is not supported"); return true;
    case K.DebuggerStatement: report(node, 'DSL1012', "'debugger' is not supported"); return true;
    case K.LabeledStatement: {
      const s = (node as ts.LabeledStatement).statement;
      if (!ts.isIterationStatement(s, false)) { report(node, 'DSL1012', 'labels are only supported on loops'); return true; }
      return false;
    }

    // ---- DSL1014: other value kinds ----
    case K.RegularExpressionLiteral: report(node, 'DSL1014', 'regular expressions are not supported'); return true;
    case K.BigIntLiteral: report(node, 'DSL1014', 'bigint is not supported: use u32 pairs'); return true;
    case K.BigIntKeyword: report(node, 'DSL1014', 'bigint is not supported: use u32 pairs'); return true;
    case K.SymbolKeyword: report(node, 'DSL1014', 'symbols are not supported'); return true;
    case K.Decorator: report(node, 'DSL1014', 'decorators are not supported'); return true;

    // ---- DSL1015: declarations with no DSL meaning ----
    case K.EnumDeclaration:
      if (!hasModifier(node, K.ConstKeyword)) { report(node, 'DSL1015', "only 'const enum' is supported: a plain enum is a runtime object"); return true; }
      return false;
    case K.ModuleDeclaration: report(node, 'DSL1015', 'namespaces are not supported'); return true;
    case K.VariableStatement:
      if (hasModifier(node, K.DeclareKeyword)) { report(node, 'DSL1015', "'declare' is not supported"); return true; }
      return false;

    // ---- DSL1016: imports ----
    case K.ImportDeclaration: {
      const decl = node as ts.ImportDeclaration;
      const from = (decl.moduleSpecifier as ts.StringLiteral).text;
      if (from !== 'dsl' && !from.startsWith('./') && !from.startsWith('../')) {
        report(decl.moduleSpecifier, 'DSL1016', `import from '${from}' is not supported: only "dsl" and relative DSL files`); return true;
      }
      const clause = decl.importClause;
      if (clause?.name) { report(clause, 'DSL1016', 'default imports are not supported: import named exports'); return true; }
      if (clause?.namedBindings && ts.isNamespaceImport(clause.namedBindings)) { report(clause, 'DSL1016', "namespace imports ('* as') are not supported: import names"); return true; }
      return true; // nothing else inside to check
    }
    case K.ImportEqualsDeclaration: report(node, 'DSL1016', "'import =' is not supported"); return true;
    case K.CallExpression:
      if ((node as ts.CallExpression).expression.kind === K.ImportKeyword) { report(node, 'DSL1016', 'dynamic import() is not supported'); return true; }
      if ((node as ts.CallExpression).questionDotToken) { report(node, 'DSL1009', "optional calls '?.()' are not supported"); return true; }
      return false;
    case K.ElementAccessExpression:
      if ((node as ts.ElementAccessExpression).questionDotToken) { report(node, 'DSL1009', "optional chaining '?.' is not supported"); return true; }
      return false;
  }
  return false;
}

// function f(a: T, ...): R — up to 8 plain, annotated parameters; no generics or overloads.
function checkFunctionShape(f: ts.FunctionDeclaration, report: Report): boolean {
  if (!f.body) { report(f, 'DSL1013', 'function overloads and bodiless declarations are not supported'); return true; }
  if (f.typeParameters?.length) { report(f.typeParameters[0], 'DSL1013', 'generic functions are not supported'); return true; }
  if (f.parameters.length > 8) { report(f.parameters[8], 'DSL1013', `functions take at most 8 parameters ('${f.name?.text}' has ${f.parameters.length})`); return true; }
  for (const p of f.parameters) {
    if (p.dotDotDotToken) { report(p, 'DSL1013', 'rest parameters are not supported'); return true; }
    if (p.questionToken) { report(p, 'DSL1013', 'optional parameters are not supported'); return true; }
    if (p.initializer) { report(p, 'DSL1013', 'default parameter values are not supported'); return true; }
    if (!p.type) { report(p, 'DSL2001', `parameter '${p.name.getText()}' needs a type annotation`); return true; }
  }
  if (!f.type) { report(f.name ?? f, 'DSL2001', `function '${f.name?.text}' needs a return type annotation`); return true; }
  return false;
}

// class S { field: T = init; ... } — a struct: fields only, no methods, constructors, inheritance.
function checkStruct(c: ts.ClassDeclaration, report: Report): boolean {
  if (c.heritageClauses?.length) { report(c.heritageClauses[0], 'DSL1004', "'extends'/'implements' are not supported: structs have no inheritance"); return true; }
  if (c.typeParameters?.length) { report(c.typeParameters[0], 'DSL1013', 'generic structs are not supported'); return true; }
  for (const m of c.members) {
    if (ts.isMethodDeclaration(m)) { report(m, 'DSL1004', `methods are not supported: struct '${c.name?.text}' can only have fields (write a function taking the struct)`); return true; }
    if (ts.isConstructorDeclaration(m)) { report(m, 'DSL1004', 'constructors are not supported: give each field an initializer'); return true; }
    if (ts.isGetAccessor(m) || ts.isSetAccessor(m)) { report(m, 'DSL1004', 'accessors are not supported'); return true; }
    if (ts.isClassStaticBlockDeclaration(m)) { report(m, 'DSL1004', 'static blocks are not supported'); return true; }
    if (ts.isPropertyDeclaration(m)) {
      if (hasModifier(m, K.StaticKeyword)) { report(m, 'DSL1004', 'static members are not supported: use a module-level global'); return true; }
      if (ts.isPrivateIdentifier(m.name)) { report(m, 'DSL1004', 'private # fields are not supported'); return true; }
      if (!m.initializer) { report(m, 'DSL2001', `field '${m.name.getText()}' needs an initializer (a constant, new TypedArray(N) or new Struct())`); return true; }
    } else if (!ts.isSemicolonClassElement(m)) {
      report(m, 'DSL1004', 'only fields are supported in a struct'); return true;
    }
  }
  return false;
}
