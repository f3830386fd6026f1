// Contract: the kernel (kernel-src/) boots under QEMU -kernel as a multiboot ELF: banner, memory map
// and "boot ok", exit status 0 through isa-debug-exit; panic and division traps on request (-append);
// a deterministic instruction count to the banner under -icount; a well-formed ELF (elfy, objdump).

import test from "ava";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import elfy from "elfy";
import { qemuArgs, runQemu } from "../../tools/qemu.ts";
import {
  BANNER, EXIT_PANIC, EXIT_SUCCESS, EXIT_TRAP, compileKernelInTemp, bootInstructions, lowerUpperMemory, memoryMap,
  serialLines, usableMemory, type CompiledKernel,
} from "./helpers.ts";

let kernel: CompiledKernel;
test.before(() => { kernel = compileKernelInTemp(); });
test.after.always(() => kernel?.remove());

const boot = (options: Parameters<typeof runQemu>[1] = {}) => runQemu({ kernel: kernel.elf }, { timeoutMs: 30_000, ...options });

test("boots with -m 128: banner, memory map, plausible usable memory, boot ok, debug exit 0", async (t) => {
  const r = await boot({ memoryMiB: 128 });
  const out = serialLines(r.serial);
  t.false(r.timedOut);
  t.is(r.debugExit, EXIT_SUCCESS);
  t.regex(out, BANNER);
  t.true(out.startsWith("Denali/TS isolation kernel "), "the banner is the first line");
  t.regex(out, /^boot loader: qemu$/m);
  t.regex(out, /\nboot ok\n$/);

  const map = memoryMap(out);
  t.true(map.length >= 2, "at least low and high memory");
  t.is(map[0].base, 0n);
  for (const e of map) t.is(e.typeName, ["?", "usable", "reserved", "ACPI reclaimable", "ACPI NVS", "bad"][e.type] ?? "unknown");
  // The kernel's total agrees with the entries it printed.
  const usable = usableMemory(out)!;
  const sumKiB = map.filter((e) => e.type === 1).reduce((s, e) => s + Number(e.length >> 10n), 0);
  t.is(usable.kib, sumKiB);
  t.is(usable.mib, Math.floor(usable.kib / 1024));
  t.true(usable.kib / 1024 >= 120 && usable.kib / 1024 <= 128, `usable ${usable.kib} KiB`);
  // mem_upper is the usable region starting at 1 MiB (spec §3.3); mem_lower the one at 0.
  const { lower, upper } = lowerUpperMemory(out)!;
  const high = map.find((e) => e.type === 1 && e.base === 0x100000n)!;
  t.is(upper, Number(high.length >> 10n));
  t.is(lower, Number(map[0].length >> 10n));
});

test("boots with -m 1024 and reports about 1 GiB", async (t) => {
  const r = await boot({ memoryMiB: 1024 });
  t.is(r.debugExit, EXIT_SUCCESS);
  const usable = usableMemory(r.serial)!;
  t.true(usable.mib >= 1000 && usable.mib <= 1024, `usable ${usable.mib} MiB`);
});

test("prints the command line given with -append", async (t) => {
  const r = await boot({ extraArgs: ["-append", "console=both verbose"] });
  t.is(r.debugExit, EXIT_SUCCESS);
  // QEMU's multiboot loader puts the kernel's file name first.
  t.regex(serialLines(r.serial), new RegExp(`^command line: ${kernel.elf} console=both verbose$`, "m"));
});

test("test=panic: prints the message and the function, exits with the panic status", async (t) => {
  const r = await boot({ extraArgs: ["-append", "test=panic"] });
  const out = serialLines(r.serial);
  t.regex(out, BANNER);
  t.regex(out, /\npanic: deliberate panic for the test suite \(in deliberatePanic\)\n$/);
  t.false(out.includes("boot ok"));
  t.is(r.debugExit, EXIT_PANIC);
});

test("test=divide: a division by a zero the compiler cannot see traps", async (t) => {
  const r = await boot({ extraArgs: ["-append", "test=divide"] });
  const out = serialLines(r.serial);
  t.regex(out, /\ntrap: integer division by zero\n$/);
  t.false(out.includes("quotient"));
  t.false(out.includes("boot ok"));
  t.is(r.debugExit, EXIT_TRAP);
});

test("a word only containing test=panic does not panic", async (t) => {
  const r = await boot({ extraArgs: ["-append", "xtest=panic test=panicky"] });
  t.is(r.debugExit, EXIT_SUCCESS);
});

test("instructions from entry to banner under -icount: deterministic", async (t) => {
  const [a, b] = await Promise.all([boot({ icount: true }), boot({ icount: true })]);
  const first = bootInstructions(a.serial), second = bootInstructions(b.serial);
  t.truthy(first);
  t.is(first, second);
  t.true(first! < 200_000, `${first} instructions`);
  t.log(`boot instructions: ${first}`);
});

// ---- the image ----------------------------------------------------------------------------------

function symbolTable(file: Buffer): Map<string, { value: number; size: number; type: number }> {
  const sections = elfy.parse(file).body.sections as { name: string; data: Buffer; link: number }[];
  const symtab = sections.find((s) => s.name === ".symtab")!, strtab = sections[symtab.link];
  const cstr = (off: number) => strtab.data.subarray(off, strtab.data.indexOf(0, off)).toString();
  const syms = new Map<string, { value: number; size: number; type: number }>();
  for (let at = 16; at < symtab.data.length; at += 16) {
    syms.set(cstr(symtab.data.readUInt32LE(at)), { value: symtab.data.readUInt32LE(at + 4), size: symtab.data.readUInt32LE(at + 8), type: symtab.data[at + 12] & 15 });
  }
  return syms;
}

// Functions the kernel keeps as functions (small ones such as serialInit and serialWriteByte are inlined at -O2).
const KERNEL_FUNCTIONS = ["kmain", "consoleInit", "consoleWriteByte", "consoleWriteString", "consoleWriteDecimal", "consoleWriteHex",
  "consoleFlush", "consoleNewLine", "vgaWriteByte", "kernelPanic", "panicAt", "trap", "exitMachine", "deliberatePanic"];

test("ELF: entry is _start; the symbol table holds kmain and the console functions", (t) => {
  const file = readFileSync(kernel.elf);
  const elf = elfy.parse(file);
  t.is(elf.machine, "386");
  t.is(elf.type, "exec");
  const syms = symbolTable(file);
  t.is(elf.entry, syms.get("_start")!.value);
  t.is(elf.entry, kernel.built.image.entryAddress);
  for (const f of KERNEL_FUNCTIONS) {
    const s = syms.get(f);
    t.truthy(s, f);
    t.is(s!.type, 2, `${f} is STT_FUNC`);
    t.true(s!.size > 0, f);
    t.is(s!.value, kernel.built.image.symbols.get(f)!.address, f);
  }
});

test("objdump -d disassembles kmain and the console", (t) => {
  const out = execFileSync("objdump", ["-d", kernel.elf], { encoding: "utf8", maxBuffer: 64 << 20 });
  t.regex(out, /<kmain>:/);
  for (const f of KERNEL_FUNCTIONS) t.regex(out, new RegExp(`^[0-9a-f]{8} <${f}>:`, "m"), f);
  t.notRegex(out, /\(bad\)/);
});

// ---- the screen and the halt path ------------------------------------------------------------------

const VGA_TEXT_BUFFER = 0xb8000, COLUMNS = 80, ROWS = 25;

/**
 * Boots with a QEMU monitor on stdin/stdout and the serial line in a file; once `until` is on the
 * serial line, saves the VGA text buffer with pmemsave and quits. Returns the serial text, the
 * 4000 bytes of the screen and whether QEMU was still running (the kernel halted instead of exiting).
 */
async function bootAndDumpScreen(append: string): Promise<{ serial: string; screen: Buffer; stillRunning: boolean }> {
  const serialFile = join(kernel.dir, `serial-${process.hrtime.bigint()}.txt`), screenFile = `${serialFile}.screen`;
  const args = qemuArgs({ kernel: kernel.elf }, { extraArgs: ["-append", append] });
  args[args.indexOf("-serial") + 1] = `file:${serialFile}`;
  args[args.indexOf("-monitor") + 1] = "stdio";
  const child = spawn("qemu-system-i386", args, { stdio: ["pipe", "pipe", "pipe"] });
  let exited = false;
  const closed = new Promise<void>((resolve) => child.on("close", () => { exited = true; resolve(); }));
  const readSerial = () => (existsSync(serialFile) ? readFileSync(serialFile, "latin1") : "");
  const deadline = Date.now() + 30_000;
  while (!readSerial().includes("boot ok\n") && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));  // let the kernel reach its halt loop
  const stillRunning = !exited;
  child.stdin.write(`pmemsave ${VGA_TEXT_BUFFER} ${COLUMNS * ROWS * 2} "${screenFile}"\nquit\n`);  // quoted: HMP parses / as division
  const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await closed;
  clearTimeout(killer);
  return { serial: readSerial(), screen: existsSync(screenFile) ? readFileSync(screenFile) : Buffer.alloc(0), stillRunning };
}

test("test=halt test=scroll: the screen shows the last lines after scrolling; without the exit the kernel halts", async (t) => {
  const { serial, screen, stillRunning } = await bootAndDumpScreen("test=halt test=scroll");
  t.true(stillRunning, "the kernel halts instead of exiting when the debug-exit write is skipped");
  t.is(screen.length, COLUMNS * ROWS * 2);
  const rows: string[] = [];
  for (let row = 0; row < ROWS; row++) {
    let text = "";
    for (let column = 0; column < COLUMNS; column++) {
      const at = (row * COLUMNS + column) * 2;
      text += String.fromCharCode(screen[at]);
      t.is(screen[at + 1], 0x07, `attribute at row ${row} column ${column}`);
    }
    rows.push(text.trimEnd());
  }
  const lines = serialLines(serial).split("\n");
  t.is(lines.pop(), "", "output ends with a newline");
  t.true(lines.length > ROWS, "enough lines to scroll");
  t.deepEqual(rows.slice(0, ROWS - 1), lines.slice(-(ROWS - 1)), "rows 0-23 hold the last 24 lines");
  t.is(rows[ROWS - 1], "", "the cursor row is blank");
  t.is(lines.at(-2), "scroll line 40");
});
