// Contract: the interrupt and time platform (kernel-src/{gdt,idt,pic,pit,trap,clock,timer,shell}.ts):
// test=selftest prints "selftest NAME ok" for the timer queue order, timer handles (never 0, stale ones
// refused across a generation wrap), the clock's monotonicity, PIT ticks, lost ticks (interrupts off for
// 20 tick periods: the clock keeps the time), counted IRQs, timer expiry from the tick, spurious IRQ 7/15
// and resumed exceptions; `bench` prints deterministic instruction counts under -icount (a timer start +
// cancel with 8,000 pending costs < 1.5x that with 1,000); with `console`, COM1 input (IRQ 4) drives a shell.

import test from "ava";
import { spawn } from "node:child_process";
import { qemuArgs, runQemu } from "../../tools/qemu.ts";
import { EXIT_SUCCESS, buildKernelInTemp, serialLines, type KernelBuild } from "./helpers.ts";

let kernel: KernelBuild;
test.before(() => { kernel = buildKernelInTemp(false); });
test.after.always(() => kernel?.remove());

const PLATFORM_SELFTESTS = [
  "wide-arithmetic", "timer-queue", "timer-handles", "clock-monotonic", "pit-ticks", "irq-counted", "timer-expiry",
  "lost-ticks", "spurious-irq", "exception-resume",
];

test("test=selftest: every platform self-test passes", async (t) => {
  const r = await runQemu({ kernel: kernel.elf }, { timeoutMs: 60_000, extraArgs: ["-append", "test=selftest"] });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS, out.slice(-2000));
  t.false(out.includes("FAILED"), out);
  for (const name of PLATFORM_SELFTESTS) t.regex(out, new RegExp(`^selftest ${name} ok$`, "m"), name);
});

test("test=selftest under -icount: the same self-tests pass (virtual time)", async (t) => {
  const r = await runQemu({ kernel: kernel.elf }, { icount: true, timeoutMs: 60_000, extraArgs: ["-append", "test=selftest"] });
  const out = serialLines(r.serial);
  t.is(r.debugExit, EXIT_SUCCESS);
  t.false(out.includes("FAILED"), out);
  for (const name of PLATFORM_SELFTESTS) t.regex(out, new RegExp(`^selftest ${name} ok$`, "m"), name);
});

function benchLines(serial: string): Record<string, number> {
  return Object.fromEntries([...serialLines(serial).matchAll(/^bench (\S+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

test("bench under -icount: interrupt round trip, clock read, timer start+cancel, TSC rate; identical on two runs", async (t) => {
  const boot = () => runQemu({ kernel: kernel.elf }, { icount: true, timeoutMs: 60_000, extraArgs: ["-append", "bench"] });
  const [a, b] = await Promise.all([boot(), boot()]);
  t.is(a.debugExit, EXIT_SUCCESS);
  const first = benchLines(a.serial), second = benchLines(b.serial);
  for (const name of ["interrupt-round-trip", "clock-read", "timer-start-cancel", "tsc-khz", "tsc-per-pit-tick"]) t.true(name in first, name);
  t.deepEqual(first, second);
  // -icount shift=0: one instruction per virtual nanosecond, the TSC runs at 1 GHz.
  t.true(Math.abs(first["tsc-khz"] - 1_000_000) < 1000, `tsc-khz ${first["tsc-khz"]}`);
  t.true(first["interrupt-round-trip"] > 20 && first["interrupt-round-trip"] < 1000);
  // The timer queue is a timing wheel: start + cancel grows with pending / 1,024 at worst, not with
  // pending (a sorted list took 42,517 instructions with 8,000 pending against 1,697 with few).
  const none = first["timer-start-cancel"], thousand = first["timer-start-cancel-pending-1000"];
  const many = first["timer-start-cancel-pending-8000"];
  t.true(thousand !== undefined && many !== undefined, "timer-start-cancel-pending-1000 and -8000");
  const figures = `timer start+cancel: ${none} (none), ${thousand} (1,000), ${many} (8,000 pending)`;
  // The binary heap before it: 1,467 and 1,848. The wheel's worst case here walks ~1 and ~8 timers.
  t.true(thousand < 600 && many < 1000, figures);
  t.log(JSON.stringify(first));
});

test("console: help, clock, irq, mem and exit over COM1 input (IRQ 4)", async (t) => {
  const args = qemuArgs({ kernel: kernel.elf }, { extraArgs: ["-append", "console"] }, "stdio");
  const child = spawn("qemu-system-i386", args, { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => { out += d.toString("latin1"); });
  const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const waitFor = async (text: string) => { while (!out.includes(text) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50)); };
  await waitFor("console: type help\n> ");
  for (const command of ["help", "clock", "irq", "mem", "bogus"]) {
    const before = out.length;
    child.stdin.write(`${command}\r`);
    while (!out.slice(before).includes("\n> ") && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  }
  child.stdin.write("exit\r");
  const status = await closed;
  clearTimeout(killer);
  const text = serialLines(out);
  t.is(status, (EXIT_SUCCESS << 1) | 1);
  t.regex(text, /^> help\nhelp +this list$/m);
  t.regex(text,
    /^clock: uptime \d+ ms \(0x[0-9a-f]{16} ns\), ticks \d+, TSC \d+ kHz, lost ticks counted from the TSC \d+$/m);
  t.regex(text, /^irq 0 \(timer\): [1-9]\d*$/m);
  t.regex(text, /^irq 4 \(COM1\): [1-9]\d*$/m);
  t.regex(text, /^spurious: irq 7 0, irq 15 0, local APIC 0; unexpected vectors 0; console bytes dropped 0$/m);
  t.regex(text, /^frames: available \d+ free \d+/m);
  t.regex(text, /^unknown command: bogus \(try help\)$/m);
});
