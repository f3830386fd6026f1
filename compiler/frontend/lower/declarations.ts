// Declarations, the lowering's first pass (before any code): the names of structs, enums and type
// aliases over every file (imports may be cyclic), struct layouts (fields in order, natural alignment,
// C rules), function signatures and IR names, module-level integer constants and enum members; and how
// a type written in the source resolves to a DSL type (compiler/frontend/types.ts). Requires: tsc and the
// subset checker found no errors. Guarantees: every top-level name has its entity in cx.entities, and
// every struct its layout, before any global or function body is lowered; or DSL1xxx/DSL2xxx errors.
import { ts } from 'ts-morph';
import {
  type DType, type IntType, type Signature, type StructDef, type StructField, I32, BOOL, VOID, STRING, INT_TYPES,
  TYPED_ARRAYS, typeName, sameType, storageSize, fits, wrapTo,
} from '../types.ts';
import { type LowerContext, type Entity, alignUp } from './context.ts';
import { tryConstant, constantValue, arrayLength } from './constants.ts';

const K = ts.SyntaxKind;

/** Pass 1a, over every file first: the names of structs, enums and type aliases (imports may be cyclic). */
export function declareTypes(cx: LowerContext, file: ts.SourceFile): void {
  for (const s of file.statements) {
    if (ts.isEnumDeclaration(s)) cx.guard(() => declareEnum(cx, s));
    else if (ts.isTypeAliasDeclaration(s)) cx.declare(s.name, { kind: 'typeAlias', decl: s });
    else if (ts.isClassDeclaration(s) && s.name) cx.declare(s.name, { kind: 'struct', def: undefined as never });
  }
}

/** Pass 1b: struct layouts and function signatures, once every type name is known. */
export function declareFile(cx: LowerContext, file: ts.SourceFile): void {
  for (const s of file.statements) if (ts.isClassDeclaration(s) && s.name) cx.guard(() => structOf(cx, s));
  for (const s of file.statements) {
    if (ts.isFunctionDeclaration(s) && s.name && s.body) {
      cx.guard(() => {
        const signature: Signature = {
          params: s.parameters.map(p => resolveType(cx, p.type!)),
          result: resolveType(cx, s.type!),
        };
        for (const [i, p] of signature.params.entries())
          if (p.kind === 'void') cx.error(s.parameters[i], 'DSL2001', 'a parameter cannot be void');
        const name = s.name!.text;
        const isEntry = name === cx.options.entry && !cx.isRuntime(file);
        cx.declare(s.name!, { kind: 'function', name, irName: isEntry ? name : '', signature, decl: s });
      });
    }
  }
  // Function IR names: the entry keeps its name; others are made unique.
  for (const s of file.statements) {
    if (ts.isFunctionDeclaration(s) && s.name && s.body) {
      const e = cx.entityOf(s.name);
      if (e?.kind === 'function') {
        if (e.irName === '') e.irName = cx.uniqueName(e.name);
        else {
          if (cx.usedIrNames.has(e.irName))
            cx.error(s.name, 'DSL2010', `the entry function '${e.irName}' is defined twice`);
          cx.usedIrNames.add(e.irName);
        }
      }
    }
  }
}

export function lowerRuntimeExports(cx: LowerContext, file: ts.SourceFile): void {
  if (!cx.isRuntime(file)) return;
  for (const s of file.statements)
    if (ts.isFunctionDeclaration(s) && s.name) {
      const e = cx.entityOf(s.name);
      if (e?.kind === 'function') cx.runtime.set(e.name, e);
    }
}

/** The enum's name now (it is a type); its members' values with the module-level constants (declareConstants). */
function declareEnum(cx: LowerContext, e: ts.EnumDeclaration): void {
  cx.declare(e.name, { kind: 'enum', members: new Map() });
}

/**
 * Declares the members of `e` from `progress.index` on, in order, while their initializers are constant
 * (one may use a module-level constant or another enum's member not declared yet); returns true when
 * some member was declared. `report` turns an initializer that is still not constant into DSL2011.
 */
function declareEnumMembers(cx: LowerContext, e: ts.EnumDeclaration, progress: { index: number; next: number },
  { report = false }: { report?: boolean } = {}): boolean {
  const members = (cx.entityOf(e.name) as Entity & { kind: 'enum' }).members;
  const start = progress.index;
  for (; progress.index < e.members.length; progress.index++) {
    const m = e.members[progress.index];
    if (m.initializer && !report && !cx.guard(() => tryConstant(cx, m.initializer!))) break;
    const value = m.initializer ? constantValue(cx, m.initializer, I32) : progress.next;
    const name = m.name.getText();
    members.set(name, value);
    cx.declare(m.name, { kind: 'constant', type: I32, value, name, untyped: true });
    progress.next = value + 1;
  }
  return progress.index > start;
}

/**
 * Module-level integer constants first, across all files, until no more can be evaluated: a constant
 * may use another module's constant whatever the order the files were visited in (import cycles).
 */
export function declareConstants(cx: LowerContext): void {
  const pending: { d: ts.VariableDeclaration }[] = [];
  for (const file of cx.files)
    for (const s of file.statements)
      if (ts.isVariableStatement(s) && (s.declarationList.flags & ts.NodeFlags.Const) !== 0)
        for (const d of s.declarationList.declarations)
          if (d.initializer && ts.isIdentifier(d.name) && !ts.isStringLiteral(d.initializer)
            && !ts.isArrayLiteralExpression(d.initializer)) pending.push({ d });
  const enums = cx.files.flatMap(f => f.statements.filter(ts.isEnumDeclaration))
    .map(e => ({ e, index: 0, next: 0 }));
  let progress = true;
  while (progress && (pending.length || enums.some(p => p.index < p.e.members.length))) {
    progress = false;
    for (const p of enums) if (cx.guard(() => declareEnumMembers(cx, p.e, p))) progress = true;
    for (let k = pending.length - 1; k >= 0; k--) {
      const { d } = pending[k];
      const declared = d.type ? cx.guard(() => resolveType(cx, d.type!)) : undefined;
      if (d.type && declared?.kind !== 'int') { pending.splice(k, 1); continue; }
      const c = cx.guard(() => tryConstant(cx, d.initializer!));
      if (!c) continue;
      const name = (d.name as ts.Identifier).text;
      const type = declared ?? c.type;
      if (type.kind !== 'int' || !(fits(c.value, type) || (type.bits === 32 && fits(c.value, c.type)))) {
        pending.splice(k, 1);
        continue;
      }
      const value = wrapTo(c.value, type as IntType);
      cx.declare(d.name, { kind: 'constant', type, value, name, untyped: !declared });
      cx.options.observer?.typed(d.initializer!, c.type);
      cx.options.observer?.converted(d.initializer!, type);
      cx.constantsDeclared.add(d);
      pending.splice(k, 1);
      progress = true;
    }
  }
  for (const p of enums)
    if (p.index < p.e.members.length) cx.guard(() => declareEnumMembers(cx, p.e, p, { report: true }));
}

/** The struct layout of a class: fields in order, natural alignment, C rules. */
export function structOf(cx: LowerContext, c: ts.ClassDeclaration): StructDef {
  const known = cx.structs.get(c);
  if (known) return known;
  if (cx.layingOut.has(c)) cx.error(c, 'DSL2001', `struct '${c.name?.text}' contains itself`);
  cx.layingOut.add(c);
  const fields = new Map<string, StructField>();
  let offset = 0, align = 1;
  for (const m of c.members) {
    if (!ts.isPropertyDeclaration(m)) continue;
    const name = m.name.getText();
    let type: DType, inline: StructField['inline'] = 'scalar', inlineLength = 0, size: number, fieldAlign: number;
    const init = m.initializer!;
    const newCall = ts.isNewExpression(init) ? init : undefined;
    if (newCall && ts.isIdentifier(newCall.expression) && TYPED_ARRAYS[newCall.expression.text]) {
      const element = TYPED_ARRAYS[newCall.expression.text];
      inlineLength = arrayLength(cx, newCall);
      type = { kind: 'array', element, staticLength: inlineLength };
      inline = 'array'; size = element.bits / 8 * inlineLength; fieldAlign = element.bits / 8;
    } else if (newCall) {
      const inner = structOfExpression(cx, newCall.expression);
      type = { kind: 'struct', def: inner }; inline = 'struct'; size = inner.size; fieldAlign = inner.align;
    } else {
      type = m.type ? resolveType(cx, m.type) : literalType(cx, init);
      if (type.kind === 'struct' || type.kind === 'array')
        cx.error(m, 'DSL2001', `field '${name}': a struct or array field must be created inline with new `
          + '(references to other storage are not supported)');
      if (type.kind === 'void' || type.kind === 'string')
        cx.error(m, 'DSL2001', `field '${name}' cannot have type ${typeName(type)}`);
      size = storageSize(type); fieldAlign = size;
    }
    offset = alignUp(offset, fieldAlign);
    fields.set(name, { name, offset, type, inline, arrayLength: inlineLength });
    offset += size;
    align = Math.max(align, fieldAlign);
  }
  const size = alignUp(Math.max(offset, 1), align);
  const def: StructDef = { kind: 'structdef', name: c.name?.text ?? '?', size, align, fields };
  cx.structs.set(c, def);
  cx.layingOut.delete(c);
  const e = cx.entityOf(c.name!);
  if (e?.kind === 'struct') (e as { def: StructDef }).def = def;
  return def;
}

export function structOfExpression(cx: LowerContext, node: ts.Expression): StructDef {
  const s = cx.symbolOf(node);
  const decl = s?.declarations?.[0];
  if (!decl || !ts.isClassDeclaration(decl))
    cx.error(node, 'DSL1009',
      `'new ${node.getText()}' is not supported: only typed arrays and structs can be created`);
  return structOf(cx, decl);
}

// ==== types written in the source ===============================================================

export function resolveType(cx: LowerContext, node: ts.TypeNode): DType {
  switch (node.kind) {
    case K.BooleanKeyword: return BOOL;
    case K.StringKeyword: return STRING;
    case K.VoidKeyword: case K.NeverKeyword: return VOID;
    case K.ArrayType: {
      const element = resolveType(cx, (node as ts.ArrayTypeNode).elementType);
      if (element.kind === 'void' || element.kind === 'string' || element.kind === 'array')
        cx.error(node, 'DSL1001', `arrays of ${typeName(element)} are not supported`);
      return { kind: 'array', element, plain: true };
    }
    case K.FunctionType: {
      const f = node as ts.FunctionTypeNode;
      if (f.parameters.length > 8) cx.error(node, 'DSL1013', 'function types take at most 8 parameters');
      return {
        kind: 'function', signature: {
          params: f.parameters.map(p => {
            if (!p.type) cx.error(p, 'DSL2001', 'parameter needs a type');
            return resolveType(cx, p.type);
          }),
          result: resolveType(cx, f.type),
        },
      };
    }
    case K.ParenthesizedType: return resolveType(cx, (node as ts.ParenthesizedTypeNode).type);
    case K.TypeReference: {
      const ref = node as ts.TypeReferenceNode;
      const name = ref.typeName.getText();
      if (TYPED_ARRAYS[name]) return { kind: 'array', element: TYPED_ARRAYS[name] };
      if (name === 'Array' && ref.typeArguments?.length === 1)
        return resolveType(cx, ts.factory.createArrayTypeNode(ref.typeArguments[0]) as never);
      const e = cx.entityOf(ref.typeName);
      if (e?.kind === 'builtin') {
        if (INT_TYPES[e.name]) return INT_TYPES[e.name];
        if (e.name === 'bool') return BOOL;
      }
      if (e?.kind === 'typeAlias') return resolveType(cx, e.decl.type);
      if (e?.kind === 'struct') {
        const decl = cx.symbolOf(ref.typeName)!.declarations![0] as ts.ClassDeclaration;
        return { kind: 'struct', def: structOf(cx, decl) };
      }
      if (e?.kind === 'enum') return I32;
      cx.error(node, 'DSL1001', `type '${name}' is not supported in the DSL`);
    }
  }
  cx.error(node, 'DSL1001', `type '${node.getText()}' is not supported in the DSL`);
}

/** Type of an unannotated initializer, for `let x = 5` and fields `f = 0`. */
export function literalType(cx: LowerContext, init: ts.Expression): DType {
  if (init.kind === K.TrueKeyword || init.kind === K.FalseKeyword) return BOOL;
  const c = tryConstant(cx, init);
  if (c !== undefined) return c.type;
  cx.error(init, 'DSL2001', 'the type cannot be inferred here: add a type annotation');
}

export function checkSignature(cx: LowerContext, node: ts.Node, got: Signature, want: Signature): void {
  if (!sameType({ kind: 'function', signature: got }, { kind: 'function', signature: want }))
    cx.error(node, 'DSL2001', `function type mismatch: expected ${typeName({ kind: 'function', signature: want })}, `
      + `got ${typeName({ kind: 'function', signature: got })}`);
}
