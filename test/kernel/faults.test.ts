// Contract: every deliberate CPU exception (kernel-src/faults.ts, selected by `test=NAME`) ends in the
// documented report of kernel-src/exceptions.ts — name and vector, error code, EIP and every register,
// CR2 for a page fault, a backtrace naming the DSL functions with offsets — and exits QEMU with
// EXIT_EXCEPTION_BASE + vector. The double fault comes from a kernel stack overflow and is reported by
// the #DF task on its own stack.

import test from "ava";
import { runQemu } from "../../tools/qemu.ts";
import { BANNER, EXIT_EXCEPTION_BASE, compileKernelInTemp, serialLines, type CompiledKernel } from "./helpers.ts";

let kernel: CompiledKernel;
test.before(() => { kernel = compileKernelInTemp(); });
test.after.always(() => kernel?.remove());

const HEX = "0x[0-9a-f]{8}";
const REGISTER_LINES = [
  new RegExp(`^eip ${HEX} cs 0x00000008 eflags ${HEX}$`, "m"),
  new RegExp(`^eax ${HEX} ebx ${HEX} ecx ${HEX} edx ${HEX}$`, "m"),
  new RegExp(`^esi ${HEX} edi ${HEX} ebp ${HEX} esp ${HEX}$`, "m"),
  new RegExp(`^ds 0x00000010 es 0x00000010 fs 0x00000010 gs 0x00000010 ss 0x00000010$`, "m"),
  new RegExp(`^cr0 ${HEX} cr3 ${HEX}$`, "m"),
];

interface Report { out: string; eip: number; backtrace: { address: number; name: string; offset: number }[] }

async function fault(t: import("ava").ExecutionContext, name: string, header: string, vector: number, errorCode: number): Promise<Report> {
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 30_000, extraArgs: ["-append", `test=${name}`] });
  const out = serialLines(r.serial);
  t.regex(out, BANNER);
  t.regex(out, new RegExp(`^fault test: ${name}$`, "m"));
  t.true(out.includes(`\nexception: ${header} (vector ${vector}) error code 0x${errorCode.toString(16).padStart(8, "0")}\n`), out.slice(-1500));
  for (const line of REGISTER_LINES) t.regex(out, line);
  t.regex(out, /\nexception: machine stopped\n$/);
  t.false(out.includes("boot ok"));
  t.is(r.debugExit, EXIT_EXCEPTION_BASE + vector);
  const eip = parseInt(/^eip 0x([0-9a-f]{8})/m.exec(out)![1], 16);
  const trace = out.slice(out.indexOf("\nbacktrace:\n"));
  const backtrace = [...trace.matchAll(/^ {2}0x([0-9a-f]{8}) (\S+)\+0x([0-9a-f]+)$/gm)].map((m) => ({ address: parseInt(m[1], 16), name: m[2], offset: parseInt(m[3], 16) }));
  t.true(backtrace.length >= 1, "a backtrace");
  t.is(backtrace[0].address, eip, "the backtrace starts at the faulting instruction");
  // Offsets agree with the ELF symbol table.
  for (const frame of backtrace) {
    const symbol = kernel.built.image.symbols.get(frame.name);
    t.truthy(symbol, frame.name);
    t.is(frame.address - symbol!.address, frame.offset, frame.name);
  }
  return { out, eip, backtrace };
}

const callers = (r: Report) => r.backtrace.map((f) => f.name);

test("test=divide-error: #DE from divideUnchecked, backtrace through runRequestedFault to kmain", async (t) => {
  const r = await fault(t, "divide-error", "#DE divide error", 0, 0);
  t.deepEqual(callers(r).slice(0, 3), ["deliberateDivideError", "runRequestedFault", "kmain"]);
  t.false(r.out.includes("quotient"));
});

test("test=invalid-opcode: #UD from ud2", async (t) => {
  const r = await fault(t, "invalid-opcode", "#UD invalid opcode", 6, 0);
  t.deepEqual(callers(r).slice(0, 3), ["deliberateInvalidOpcode", "runRequestedFault", "kmain"]);
});

test("test=general-protection: #GP with the selector as error code", async (t) => {
  const r = await fault(t, "general-protection", "#GP general protection", 13, 0x08);
  t.deepEqual(callers(r).slice(0, 3), ["deliberateGeneralProtection", "runRequestedFault", "kmain"]);
});

test("test=page-fault: #PF on a null-pointer write, CR2 is the address", async (t) => {
  const r = await fault(t, "page-fault", "#PF page fault", 14, 0x2);   // not present, write, supervisor
  t.regex(r.out, /^cr2 0x0000001c page not present, write, supervisor$/m);
  t.deepEqual(callers(r).slice(0, 3), ["deliberatePageFault", "runRequestedFault", "kmain"]);
});

test("test=double-fault: a kernel stack overflow is reported by the #DF task", async (t) => {
  const r = await fault(t, "double-fault", "#DF double fault", 8, 0);
  // The overflow ran into the guard page at 0x7f000000 (kernel-src/faults.ts).
  const cr2 = parseInt(/^cr2 0x([0-9a-f]{8}) \(the last page fault address\)$/m.exec(r.out)![1], 16);
  t.true(cr2 >= 0x7f000000 && cr2 < 0x7f001000, `cr2 ${cr2.toString(16)}`);
  const esp = parseInt(/ esp 0x([0-9a-f]{8})$/m.exec(r.out)![1], 16);
  t.true(esp >= 0x7f000000 && esp < 0x7f002000, `esp ${esp.toString(16)}`);
  t.true(r.backtrace.length >= 10 && r.backtrace.every((f) => f.name === "overflowStack"), callers(r).join(" "));
  t.regex(r.out, /^ {2}\.\.\.$/m, "the runaway chain is cut short");
});

test("test=boot-stack-overflow: the boot stack runs into its guard page; the #DF report names the stack", async (t) => {
  const r = await fault(t, "boot-stack-overflow", "#DF double fault", 8, 0);
  const guard = /^kernel stack overflow: the boot stack \(guard page hit at 0x([0-9a-f]{8})\)$/m.exec(r.out);
  t.truthy(guard, r.out.slice(-1500));
  // The guard is the lowest whole page of the linker's boot stack, just below the stack's last page.
  const cr2 = parseInt(/^cr2 0x([0-9a-f]{8}) \(the last page fault address\)$/m.exec(r.out)![1], 16);
  t.is(cr2 >>> 12, parseInt(guard![1], 16) >>> 12);
  t.true(r.backtrace.length >= 10 && r.backtrace.every((f) => f.name === "overflowStack"), callers(r).join(" "));
});

test("every boot reports the stack guard pages", async (t) => {
  const r = await fault(t, "page-fault", "#PF page fault", 14, 0x2);
  t.regex(r.out, /^stacks: guard pages under the boot, trap and double-fault stacks$/m);
  t.notRegex(r.out, /^kernel stack overflow/m, "a null write is no stack overflow");
});
