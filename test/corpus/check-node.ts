// Runs every corpus program that lists the node target under Node in faithful mode, and those that list
// node-plain under plain Node (tools/node-run.mjs [--plain]), and compares stdout, exit status and
// stderr with the expectations in its header.
// Usage: npx tsx test/corpus/check-node.ts [FILE.ts ...]
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expectedStdout, parseExpectations } from "./expectations.ts";

const repositoryRoot = resolve(fileURLToPath(import.meta.url), "../../..");
const programsDirectory = join(repositoryRoot, "test/programs");
const nodeRunner = join(repositoryRoot, "tools/node-run.mjs");

const requested = process.argv.slice(2).map((file) => resolve(file));
const files = requested.length > 0
  ? requested
  : readdirSync(programsDirectory).filter((name) => name.endsWith(".ts")).sort().map((name) => join(programsDirectory, name));

let passed = 0;
let skipped = 0;
const failures: string[] = [];
const modes = [["node", []], ["node-plain", ["--plain"]]] as const;
for (const file of files) for (const [mode, flags] of modes) {
  const name = `${relative(repositoryRoot, file)} (${mode})`;
  const expectations = parseExpectations(readFileSync(file, "utf8"), name);
  if (!expectations.targets.includes(mode)) { skipped++; continue; }
  const run = spawnSync(process.execPath, [nodeRunner, ...flags, file], { encoding: "utf8", timeout: 60_000 });
  const problems: string[] = [];
  const wanted = expectedStdout(expectations);
  if (run.stdout !== wanted) problems.push(`stdout differs:\n--- expected\n${wanted}--- actual\n${run.stdout}`);
  if (run.status !== expectations.exitStatus) problems.push(`exit status ${run.status}, expected ${expectations.exitStatus}`);
  for (const substring of expectations.stderrSubstrings) {
    if (!run.stderr.includes(substring)) problems.push(`stderr lacks "${substring}"`);
  }
  if (expectations.stderrSubstrings.length === 0 && expectations.exitStatus !== 101 && run.stderr !== "") {
    problems.push(`unexpected stderr:\n${run.stderr}`);
  }
  if (problems.length === 0) passed++;
  else failures.push(`FAIL ${name}\n  ${problems.join("\n  ")}${run.stderr && !problems.some((p) => p.startsWith("unexpected")) ? `\n  stderr: ${run.stderr}` : ""}`);
}
for (const failure of failures) console.log(failure);
console.log(`node: ${passed} runs passed, ${failures.length} failed, ${skipped} skipped (a mode the program does not list)`);
process.exitCode = failures.length === 0 ? 0 : 1;
