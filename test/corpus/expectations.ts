// Reads the expectations a corpus program carries in its leading comment block
// (test/programs/README.md describes the format). Shared by every runner: Node, interp, QEMU.

/** `node`: Node in faithful mode (the DSL's semantics made explicit); `node-plain`: the file itself under Node. */
type Target = "interp" | "qemu" | "node" | "node-plain";
const allTargets: readonly Target[] = ["interp", "qemu", "node", "node-plain"];

interface ProgramExpectations {
  /** Printed lines, in order; the expected stdout is these joined with "\n" plus a final "\n" (or "" when none). */
  stdoutLines: string[];
  /** Expected exit status (main() & 255, 101 after a trap or panic). */
  exitStatus: number;
  /** Targets the program must pass on. */
  targets: Target[];
  /** Substrings that must appear on stderr. */
  stderrSubstrings: string[];
}

/** The expected stdout as one string. */
export function expectedStdout(expectations: ProgramExpectations): string {
  return expectations.stdoutLines.map((line) => line + "\n").join("");
}

/**
 * Parses the leading block of `//` comment lines (blank lines allowed) up to the first line of code.
 * Recognised: `// expect: TEXT` (TEXT is everything after "expect: "; `// expect:` alone is an empty
 * line), `// exit: N`, `// targets: a b c`, `// stderr: TEXT`. Other comment lines are free text.
 */
export function parseExpectations(source: string, file = "<program>"): ProgramExpectations {
  const result: ProgramExpectations = { stdoutLines: [], exitStatus: 0, targets: [...allTargets], stderrSubstrings: [] };
  for (const rawLine of source.split("\n")) {
    const line = rawLine.replace(/\r$/, "");
    if (line.trim() === "") continue;
    if (!line.startsWith("//")) break;
    const match = /^\/\/ (expect|exit|targets|stderr):(?: (.*))?$/.exec(line);
    if (!match) continue;
    const [, key, value = ""] = match;
    switch (key) {
      case "expect":
        result.stdoutLines.push(value);
        break;
      case "exit": {
        const status = Number(value.trim());
        if (!Number.isInteger(status) || status < 0 || status > 255) throw new Error(`${file}: bad exit status "${value}"`);
        result.exitStatus = status;
        break;
      }
      case "targets": {
        const targets = value.trim().split(/\s+/);
        for (const target of targets) {
          if (!allTargets.includes(target as Target)) throw new Error(`${file}: unknown target "${target}"`);
        }
        result.targets = targets as Target[];
        break;
      }
      case "stderr":
        result.stderrSubstrings.push(value);
        break;
    }
  }
  return result;
}

/** The expected diagnostic code of a negative test: its first line, `// error: DSL1234` or `// error: TS2322`. */
export function parseExpectedError(source: string, file = "<negative>"): string {
  const match = /^\/\/ error: ((?:DSL|TS)\d{4})\s*$/m.exec(source.split("\n")[0] ?? "");
  if (!match) throw new Error(`${file}: first line must be "// error: DSLnnnn" or "// error: TSnnnn"`);
  return match[1];
}
