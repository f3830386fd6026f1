// Contract: the corpus against tsc (the compiler's first stage) with the project's compiler options:
//  - every program in test/programs (and its lib/ modules) type-checks cleanly;
//  - every negative test expecting a DSL code type-checks cleanly (so the DSL checker is what rejects it);
//  - every negative test expecting a TS code gets exactly that tsc error.
// Part of `make test`; alone: npx ava test/corpus/typecheck.test.ts
import test from "ava";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parseExpectedError } from "./expectations.ts";

const repositoryRoot = resolve(fileURLToPath(import.meta.url), "../../..");
const compilerOptions: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  noEmit: true,
  skipLibCheck: true,
  allowImportingTsExtensions: true,
  types: ["node"],
  paths: { dsl: [join(repositoryRoot, "dsl/index.ts")] },
};

function tsFiles(directory: string): string[] {
  return readdirSync(directory).filter((name) => name.endsWith(".ts")).sort().map((name) => join(directory, name));
}

const programFiles = [...tsFiles(join(repositoryRoot, "test/programs")), ...tsFiles(join(repositoryRoot, "test/programs/lib"))];
const negativeFiles = tsFiles(join(repositoryRoot, "test/negative"));
// One tsc program over every file (each is a module, so they cannot clash); diagnostics per file.
const program = ts.createProgram([...programFiles, ...negativeFiles], compilerOptions);

/** tsc's diagnostics for one file, as { code: "TSnnnn", text }. */
function diagnosticsOf(file: string): { code: string; text: string }[] {
  const sourceFile = program.getSourceFile(file);
  if (!sourceFile) return [{ code: "TS0", text: `${file}: not in the program` }];
  const all = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
  return all.map((d) => {
    const where = d.file && d.start !== undefined
      ? `${relative(repositoryRoot, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}`
      : "";
    return { code: `TS${d.code}`, text: `TS${d.code} ${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}` };
  });
}

test("every program is tsc-clean; every negative test is rejected by the checker it names", (t) => {
  const optionProblems = program.getOptionsDiagnostics().concat(program.getGlobalDiagnostics());
  const failures = optionProblems.map((d) => `tsc options: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
  for (const file of programFiles) {
    const texts = diagnosticsOf(file).map((d) => d.text);
    if (texts.length > 0) failures.push(`${relative(repositoryRoot, file)}: not tsc-clean\n  ${texts.join("\n  ")}`);
  }
  for (const file of negativeFiles) {
    const name = relative(repositoryRoot, file);
    const expected = parseExpectedError(readFileSync(file, "utf8"), name);
    const diagnostics = diagnosticsOf(file);
    const texts = diagnostics.map((d) => d.text).join("\n  ");
    if (expected.startsWith("DSL")) {
      if (diagnostics.length > 0) failures.push(`${name}: expects ${expected} but tsc already rejects it\n  ${texts}`);
    } else if (diagnostics.length === 0 || !diagnostics.every((d) => d.code === expected)) {
      failures.push(`${name}: expects tsc ${expected}, got\n  ${texts || "(none)"}`);
    }
  }
  const counts = `${programFiles.length} programs and ${negativeFiles.length} negative tests`;
  t.true(programFiles.length > 50 && negativeFiles.length > 20, counts);
  t.deepEqual(failures, []);
  t.log(`${counts} checked by tsc`);
});
