// The kernel's bytecode verifier accepts what the compiler makes for guests: every guest of guest-src/
// and every program of test/programs/ (built as a bytecode guest, guest-src/runtime/program.ts), at -O2,
// verifies OK on the bytecode interpreter, except the few that use kernel-only intrinsics on purpose,
// each refused at such an intrinsic; the host decoder accepts them all. A handful, good and bad, are
// verified again natively (x86 in QEMU) with the same verdicts.
import test from "ava";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { encodeModule } from "../../compiler/bytecode/encode.ts";
import { decodeModule } from "../../compiler/bytecode/decode.ts";
import { INTRINSIC_NAMES } from "../../compiler/bytecode/format.ts";
import { ERROR_FORBIDDEN_INTRINSIC, VERIFY_OK } from "../../kernel-src/bytecode-reader.ts";
import { guestModules, programModules, verifyInQemu, verifyOnInterpreter } from "./verifier/harness.ts";
import { baseModule, encode } from "./verifier/images.ts";

/** Modules that use a kernel-only intrinsic on purpose, and the intrinsics they may be refused at. */
const KERNEL_ONLY: Record<string, string[]> = {
  "attacks/privileged.ts": [
    "cli", "sti", "hlt", "inb", "outb", "lgdt", "lidt", "ltr", "invlpg", "readCr3", "writeCr0", "writeCr3",
  ],
  "hypercall-trap.ts": ["lgdt", "lidt", "loadSegments"],
  "interrupt-entries.ts": ["lgdt", "lidt", "ltr", "loadSegments"],
  "symbol-table.ts": ["readFramePointer"],
};

const modules = [...guestModules(), ...programModules()];
const images = modules.map(({ module }) => encodeModule(module));
// Reads unchecked here (the fuzz and rule tests check them): twice as fast for 300 KB of images.
const { verdicts, instructions } = verifyOnInterpreter(images, false);
const bytes = images.reduce((sum, image) => sum + image.length, 0);

test("every guest and corpus program verifies, but the 4 using kernel-only intrinsics", (t) => {
  t.true(modules.length > 120, `${modules.length} modules`);
  modules.forEach(({ name }, i) => {
    const verdict = verdicts[i];
    const refusedAt = KERNEL_ONLY[name];
    if (!refusedAt) return t.is(verdict.error, VERIFY_OK, `${name}: ${verdict.reason} at ${verdict.offset}`);
    t.is(verdict.error, ERROR_FORBIDDEN_INTRINSIC, name);
    const intrinsic = INTRINSIC_NAMES[images[i][verdict.offset]];
    t.true(refusedAt.includes(intrinsic), `${name}: refused at ${intrinsic}`);
  });
  t.log(`${modules.length} modules, ${bytes} bytes: ${instructions} interpreter instructions, `
    + `${(instructions / bytes).toFixed(0)} a byte`);
});

test("the host decoder accepts every one of them", (t) => {
  for (const [i, image] of images.entries()) t.notThrows(() => decodeModule(image), modules[i].name);
});

test("natively in QEMU, a few good and bad images get the same verdicts", async (t) => {
  const pick = ["apps/httpd.ts", "apps/echo.ts", "demos/counter.ts", "attacks/privileged.ts", "hello.ts", "contexts.ts",
    "symbol-table.ts"];
  const chosen = pick.map((name) => modules.findIndex((m) => m.name === name));
  t.false(chosen.includes(-1));
  const base = encode(baseModule());
  const broken = [base.subarray(0, 100), Uint8Array.from(base, (b, i) => (i === 200 ? b ^ 0x40 : b))];
  const interpreted = [...chosen.map((i) => verdicts[i]), ...verifyOnInterpreter(broken).verdicts];
  const native = await verifyInQemu([...chosen.map((i) => images[i]), ...broken],
    join(mkdtempSync(join(tmpdir(), "denali-verifier-")), "verifier.elf"));
  t.deepEqual(native, interpreted);
  t.true(native.some((v) => v.error !== VERIFY_OK) && native.some((v) => v.error === VERIFY_OK));
});
