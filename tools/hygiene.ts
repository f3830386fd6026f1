// Contract: the house rules `make test` enforces (test/tools/hygiene.test.ts; shared/STYLE.md), over one
// project (a root with a tsconfig.json and its files):
//   - typeErrors(): what `tsc --noEmit -p ROOT` reports (the exhaustive switches depend on it);
//   - deadExports(): every export of a project file is used by another file (an import, a re-export, a
//     namespace member `ns.name`, an `import('...').T` type), or is reached by name: an entry function
//     (main, kmain, guestMain), every export of a runtime the compiler links and calls by name, an export
//     of a test program whose name another file spells in a string (the entry a test compiles it with);
//   - longLines(): no file has more lines over 120 columns than its entry in tools/long-lines.json, a
//     ratchet that only goes down (a file absent from it may have none; an entry above the file's count
//     is stale and fails too, so fixed lines cannot come back).
// `npx tsx tools/hygiene.ts` prints all three reports and exits 1 if any has a finding.
import ts from 'typescript';
import { readFileSync, existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT } from './build.ts';

export const LINE_LIMIT = 120;
const LONG_LINES_FILE = join(ROOT, 'tools', 'long-lines.json');

/** What deadExports() counts as used without an import. Paths are relative to the project root. */
export interface Exemptions {
  /** Exports reached by name, not by an import: the entry functions the compiler and the CLI start from. */
  entryNames: ReadonlySet<string>;
  /** Files whose every export is called by name by the compiler (the runtimes it links). */
  runtimeFiles: ReadonlySet<string>;
  /** Folders of test programs: an export is used if another file names it in a string (the entry it runs). */
  programDirs: readonly string[];
  /** Folders left out of both checks for now (see HOUSE). */
  temporaryDirs: readonly string[];
}

export const HOUSE: Exemptions = {
  entryNames: new Set(['main', 'kmain', 'guestMain']),
  // The runtimes compiler/pipeline.ts links (`runtime:`) and the one the TypeScript back end imports
  // (FAITHFUL_RUNTIME): every export is a function the emitted code calls by name (print, panicAt, ...).
  runtimeFiles: new Set(['dsl/runtime/program.ts', 'guest-src/runtime/runtime.ts', 'guest-src/runtime/program.ts',
    'kernel-src/runtime.ts', 'test/kernel/guests/runtime.ts', 'dsl/faithful.ts']),
  programDirs: ['test/programs/', 'test/compiler/sources/', 'test/libos/guests/', 'test/kernel/guests/'],
  // Directories not judged yet (none: compiler/frontend/ is judged since its split into rooms merged).
  temporaryDirs: [],
};

export interface Project {
  root: string;
  program: ts.Program;
  /** The TypeScript files of the tsconfig: their exports are judged. */
  files: string[];
  /** The JavaScript modules under the same folders (tools/*.mjs, dsl/plugin/index.cjs): they use exports, theirs are
   * not judged. */
  scripts: string[];
}

/**
 * The TypeScript project of `root`: the files and options of its tsconfig.json, as `tsc -p root` sees
 * them, plus its .mjs and .cjs modules read as JavaScript (allowJs without checkJs: they add no type errors).
 */
export function loadProject(root: string = ROOT): Project {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: d => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  })!;
  if (config.errors.length > 0) throw new Error(ts.formatDiagnostics(config.errors, formatHost(root)));
  const include = ((config.raw?.include ?? ['.']) as string[]).map(d => `${d}/**/*`);
  const scripts = ts.sys.readDirectory(root, ['.mjs', '.cjs'], config.raw?.exclude, include).map(f => resolve(f));
  const program = ts.createProgram({ rootNames: [...config.fileNames, ...scripts],
    options: { ...config.options, allowJs: true, checkJs: false } });
  return { root, program, files: config.fileNames.map(f => resolve(f)), scripts };
}

const formatHost = (root: string): ts.FormatDiagnosticsHost => ({
  getCurrentDirectory: () => root, getCanonicalFileName: f => f, getNewLine: () => '\n',
});

/** `tsc --noEmit`'s diagnostics, formatted as tsc prints them (none: []). */
export function typeErrors(project: Project): string[] {
  const host = formatHost(project.root);
  return ts.getPreEmitDiagnostics(project.program).map(d => ts.formatDiagnostic(d, host).trimEnd());
}

interface DeadExport { file: string; name: string; line: number }

/** Calls visit on every node of sf; iterative, since some test sources nest thousands of operators deep. */
function walk(sf: ts.SourceFile, visit: (node: ts.Node) => void): void {
  const stack: ts.Node[] = [sf];
  while (stack.length > 0) {
    const node = stack.pop()!;
    visit(node);
    ts.forEachChild(node, child => { stack.push(child); });
  }
}

/** The exports of the project's files that no other file uses and that are not reached by name. */
export function deadExports(project: Project, exempt: Exemptions = HOUSE): DeadExport[] {
  const { program, root } = project;
  const checker = program.getTypeChecker();
  const own = new Set(project.files), users = new Set([...project.files, ...project.scripts]);
  const rel = (sf: ts.SourceFile) => relative(root, sf.fileName).split('\\').join('/');
  const sources = program.getSourceFiles().filter(sf => own.has(resolve(sf.fileName)));
  const target = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  /** s and every alias it goes through: `import { x } from './index.ts'` uses index's re-export and x. */
  const chain = (s: ts.Symbol): ts.Symbol[] => {
    const out = [s];
    while (s.flags & ts.SymbolFlags.Alias) {
      const next = checker.getImmediateAliasedSymbol(s);
      if (!next || out.includes(next)) break;
      out.push(s = next);
    }
    return out;
  };

  // A symbol is used when an identifier of another file resolves to it (through any chain of aliases).
  const used = new Set<ts.Symbol>();
  const strings = new Map<string, Set<ts.SourceFile>>();   // string literal -> the files that spell it
  for (const sf of program.getSourceFiles().filter(f => users.has(resolve(f.fileName)))) {
    const use = (symbol: ts.Symbol | undefined) => {
      for (const s of symbol ? chain(symbol) : []) if (s.declarations?.some(d => d.getSourceFile() !== sf)) used.add(s);
    };
    walk(sf, node => {
      if (ts.isIdentifier(node)) {
        use(checker.getSymbolAtLocation(node));
      } else if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
        // `const { f } = await import('./m.ts')`: the name is a local; the property it reads is m's export.
        const property = node.propertyName ?? node.name;
        if (ts.isIdentifier(property)) use(checker.getTypeAtLocation(node.parent).getProperty(property.text));
      } else if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
        const files = strings.get(node.text) ?? new Set();
        strings.set(node.text, files.add(sf));
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.exportClause) {
        // `export * from`: whatever it re-exports is reached through this file; judge it here, not there.
        const module = checker.getSymbolAtLocation(node.moduleSpecifier);
        if (module) for (const s of checker.getExportsOfModule(module)) used.add(target(s));
      }
    });
  }
  const under = (file: string, dirs: readonly string[]) => dirs.some(d => file.startsWith(d));
  const dead: DeadExport[] = [];
  for (const sf of sources) {
    const file = rel(sf);
    if (exempt.runtimeFiles.has(file) || under(file, exempt.temporaryDirs)) continue;
    const module = checker.getSymbolAtLocation(sf);
    if (!module) continue;
    for (const exported of checker.getExportsOfModule(module)) {
      const decl = exported.declarations?.[0];
      if (!decl || decl.getSourceFile() !== sf) continue;   // through `export *`: judged where it is declared
      if (used.has(exported) || exempt.entryNames.has(exported.name)) continue;
      if (under(file, exempt.programDirs) && [...strings.get(exported.name) ?? []].some(s => s !== sf)) continue;
      const line = sf.getLineAndCharacterOfPosition(decl.getStart()).line + 1;
      dead.push({ file, name: exported.name, line });
    }
  }
  return dead.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** The files of `root` longLines() reads: tracked sources and documents (not generated results, not lockfiles). */
export function trackedTextFiles(root: string = ROOT): string[] {
  const out = execFileSync('git', ['ls-files', '*.ts', '*.mts', '*.mjs', '*.cjs', '*.md', '*.sh', '*.json', 'Makefile'],
    { cwd: root, encoding: 'utf8' });
  return out.split('\n').filter(f => f && !f.startsWith('bench/results/') && !f.endsWith('package-lock.json'));
}

/** Lines over LINE_LIMIT per file (files without any are absent). */
export function longLineCounts(root: string, files: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const file of files) {
    if (!existsSync(join(root, file))) continue;   // deleted in the work tree, not yet in git
    const n = readFileSync(join(root, file), 'utf8').split('\n').filter(l => l.length > LINE_LIMIT).length;
    if (n > 0) counts.set(file, n);
  }
  return counts;
}

/** Files over their allowance, and allowances above the count (stale: lower them). */
export function longLines(counts: ReadonlyMap<string, number>, allowed: Readonly<Record<string, number>>,
  exempt: Exemptions = HOUSE): { over: string[]; stale: string[] } {
  const judged = (f: string) => !exempt.temporaryDirs.some(d => f.startsWith(d));
  const over = [...counts].filter(([f, n]) => judged(f) && n > (allowed[f] ?? 0))
    .map(([f, n]) => `${f}: ${n} lines over ${LINE_LIMIT} columns (allowed ${allowed[f] ?? 0})`);
  const stale = Object.entries(allowed).filter(([f, n]) => (counts.get(f) ?? 0) < n)
    .map(([f, n]) => `${f}: allowed ${n}, has ${counts.get(f) ?? 0}: lower its entry in tools/long-lines.json`);
  return { over, stale };
}

/** The ratchet as committed (none: every file is allowed none). */
export function readAllowances(file: string = LONG_LINES_FILE): Record<string, number> {
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const project = loadProject();
  const errors = typeErrors(project);
  for (const e of errors) console.log(e);
  const dead = deadExports(project);
  for (const d of dead) console.log(`${d.file}:${d.line}: export '${d.name}' is used by no other file`);
  const { over, stale } = longLines(longLineCounts(ROOT, trackedTextFiles()), readAllowances());
  for (const line of [...over, ...stale]) console.log(line);
  console.log(`${errors.length} type errors, ${dead.length} dead exports, ${over.length} files over their ` +
    `long-line allowance, ${stale.length} stale allowances`);
  process.exitCode = errors.length + dead.length + over.length + stale.length > 0 ? 1 : 0;
}
