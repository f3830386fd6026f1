// Contract: the DSL's diagnostics in the editor, a TypeScript language-service plugin (tsconfig.json's
// `compilerOptions.plugins` names it; tsserver loads it through index.cjs). On a DSL file (one that imports
// from "dsl": every kernel, guest and program file does, no host file does) getSemanticDiagnostics adds what
// the compiler's subset checker (compiler/frontend/subset.ts, the one definition of the rules) reports, with
// its messages, as errors of source "DSL" and the code's number (DSL1003: source DSL, code 1003), over the
// offending syntax. The checker runs on its own parse of the file's text with the compiler's TypeScript (the
// syntax kinds it is written against), whatever TypeScript the editor runs. Other files are left alone.
// Not reported here: the type rules lowering checks over a whole program (DSL2xxx but DSL2001).
import type tsserver from 'typescript';
import { ts } from 'ts-morph';
import { checkSubset } from '../../compiler/frontend/subset.ts';

/** The `source` of every diagnostic this plugin adds (editors show it beside the code: `DSL(1003)`). */
const DSL_SOURCE = 'DSL';

function importsDsl(file: ts.SourceFile): boolean {
  return file.statements.some(s => ts.isImportDeclaration(s) && ts.isStringLiteral(s.moduleSpecifier)
    && s.moduleSpecifier.text === 'dsl');
}

/** The subset checker's diagnostics for a file's text; none for a file that is not DSL. */
function dslDiagnostics(fileName: string, text: string): ReturnType<typeof checkSubset> {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  return importsDsl(file) ? checkSubset(file) : [];
}

/** tsserver calls the module (index.cjs exports this) with its own TypeScript, then create() per project. */
export const createPlugin: tsserver.server.PluginModuleFactory = ({ typescript }) => ({
  create(info) {
    const service = info.languageService;
    const getSemanticDiagnostics = (fileName: string): tsserver.Diagnostic[] => {
      const own = service.getSemanticDiagnostics(fileName);
      const file = service.getProgram()?.getSourceFile(fileName);
      if (!file) return own;
      const dsl = dslDiagnostics(fileName, file.text).map((d): tsserver.Diagnostic => ({
        file, start: d.span.start, length: d.span.length, messageText: d.message,
        category: typescript.DiagnosticCategory.Error, code: Number(d.code.slice(3)), source: DSL_SOURCE,
      }));
      return [...own, ...dsl];
    };
    return { ...service, getSemanticDiagnostics };
  },
});
