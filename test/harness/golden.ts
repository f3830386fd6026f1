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
