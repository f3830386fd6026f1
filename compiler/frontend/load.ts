// Loads DSL files with ts-morph: one Project, "dsl" resolved to dsl/index.ts wherever the files live;
// tsc's own diagnostics come back in the DSL's format (error TSnnnn).
import { Project, ts } from 'ts-morph';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Diagnostic } from './diagnostics.ts';

export const DSL_INDEX = resolve(fileURLToPath(new URL('../../dsl/index.ts', import.meta.url)));

const COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  allowImportingTsExtensions: true,
  types: [],
  lib: ['lib.es2022.d.ts'],
  paths: { dsl: [DSL_INDEX] },
};

interface LoadedProgram {
  program: ts.Program; checker: ts.TypeChecker; files: ts.SourceFile[]; diagnostics: Diagnostic[];
}

export function loadProgram(rootFiles: string[]): LoadedProgram {
  const project = new Project({ compilerOptions: COMPILER_OPTIONS, skipAddingFilesFromTsConfig: true });
  // Node's `process` (used by the Node runtime in dsl/index.ts) is declared here so no @types are needed.
  project.createSourceFile('/__denali_env.d.ts', 'declare const process: { stdout: { write(s: string): void }; stderr: { write(s: string): void }; exit(code: number): never };', { overwrite: true });
  const missing = rootFiles.filter(f => !ts.sys.fileExists(f));
  if (missing.length) return { program: undefined as never, checker: undefined as never, files: [], diagnostics: missing.map(f => ({ file: f, line: 1, column: 1, code: 'DSL0001', message: `file not found: ${f}` })) };
  let program: ts.Program, tscDiagnostics: readonly ts.Diagnostic[];
  try {
    for (const f of rootFiles) project.addSourceFileAtPath(resolve(f));
    project.resolveSourceFileDependencies();
    program = project.getProgram().compilerObject;
    tscDiagnostics = ts.getPreEmitDiagnostics(program);
  } catch (e) {
    // tsc's parser and checker recurse on the host's stack: syntax nested thousands of levels deep
    // exhausts it before the subset checker (which reports DSL1017 at the expression) can run.
    if (!(e instanceof RangeError)) throw e;
    const message = 'tsc ran out of stack: an expression or statement is nested too deeply for it; split it';
    return {
      program: undefined as never, checker: undefined as never, files: [],
      diagnostics: rootFiles.slice(0, 1).map(f => ({ file: f, line: 1, column: 1, code: 'DSL1017', message })),
    };
  }
  const diagnostics: Diagnostic[] = [];
  for (const d of tscDiagnostics) {
    if (d.category !== ts.DiagnosticCategory.Error) continue;
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
      diagnostics.push({ file: d.file.fileName, line: line + 1, column: character + 1, code: `TS${d.code}`, message });
    } else {
      diagnostics.push({ file: '<tsc>', line: 1, column: 1, code: `TS${d.code}`, message });
    }
  }
  const files = program.getSourceFiles().filter(f => !f.isDeclarationFile && resolve(f.fileName) !== DSL_INDEX && !f.fileName.includes('/node_modules/'));
  return { program, checker: program.getTypeChecker(), files, diagnostics };
}
