// Contract: the kernel tests' ELF for a `make test` run (test/kernel/helpers.ts, DENALI_KERNEL_CACHE set by
// tools/test-summary.sh): the first file compiles it and leaves a copy; the others get that copy, byte for byte,
// in a directory of their own; without the variable each compiles its own.
import test from "ava";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildKernelInTemp, KERNEL_CACHE_VARIABLE } from "../kernel/helpers.ts";

test("the first kernel build of a run is left for the others, who each get a copy of their own", t => {
  const cache = mkdtempSync(join(tmpdir(), "denali-kernel-cache-test-"));
  const saved = process.env[KERNEL_CACHE_VARIABLE];
  process.env[KERNEL_CACHE_VARIABLE] = cache;
  const first = buildKernelInTemp(false);
  try {
    t.deepEqual(readdirSync(cache), ["denali.elf"]);
    t.deepEqual(readFileSync(join(cache, "denali.elf")), readFileSync(first.elf));
    const second = buildKernelInTemp(false);
    t.not(second.dir, first.dir);
    t.deepEqual(readFileSync(second.elf), readFileSync(first.elf));
    t.false(existsSync(join(second.dir, "denali.lst")), "copied, not compiled: no listing beside it");
    second.remove();
    t.true(existsSync(first.elf), "each copy is its own: removing one leaves the others");
  } finally {
    first.remove();
    rmSync(cache, { recursive: true, force: true });
    if (saved === undefined) delete process.env[KERNEL_CACHE_VARIABLE]; else process.env[KERNEL_CACHE_VARIABLE] = saved;
  }
});
