// Golden files: `text` must equal the file's contents. A missing golden file is a failure, never
// written silently; `UPDATE_GOLDEN=1` (re)writes every golden file a run compares with, and logs it.
import type { ExecutionContext } from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

export function matchGolden(t: ExecutionContext, file: string, text: string, what = 'the output'): void {
  const name = relative(ROOT, file);
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(file, text);
    t.log(`UPDATE_GOLDEN=1: wrote ${name}`);
  } else if (!existsSync(file)) {
    t.fail(`${name} is missing: write it with UPDATE_GOLDEN=1 after checking ${what} by hand`);
    return;
  }
  t.is(text, readFileSync(file, 'utf8'), `${what} differs from ${name}`);
}

/**
 * The golden text that ends a file, below its `marker` line (an IR test file: its input above, the
 * expected IR below). A missing marker is a failure; `UPDATE_GOLDEN=1` (re)writes everything below it.
 */
export function matchGoldenTail(
  t: ExecutionContext, file: string, marker: string, text: string, what = 'the output',
): void {
  const name = relative(ROOT, file);
  const content = readFileSync(file, 'utf8');
  const lines = content.split('\n');
  const at = lines.indexOf(marker);
  if (process.env.UPDATE_GOLDEN === '1') {
    const head = at < 0 ? `${content.trimEnd()}\n\n` : `${lines.slice(0, at).join('\n')}\n`;
    writeFileSync(file, `${head}${marker}\n${text}`);
    t.log(`UPDATE_GOLDEN=1: wrote the end of ${name}`);
    return;
  }
  if (at < 0) {
    t.fail(`${name} has no '${marker}' line: write it with UPDATE_GOLDEN=1 after checking ${what} by hand`);
    return;
  }
  t.is(text, lines.slice(at + 1).join('\n'), `${what} differs from the end of ${name}`);
}
