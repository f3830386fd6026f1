// The kernel's entry: kmain runs once, on the boot CPU, with paging off and interrupts disabled, on the
// 64 KiB boot stack the linker's _start set up (compiler/link; stacks.ts puts a guard page under it). It
// only calls the subsystems (each its own file) in order and reports: the console and the banner (with
// the instructions it took: the boot cost under -icount), the multiboot information (boot loader,
// memory map, command line), the GDT, TSSs, IDT and PICs (trap.ts) and the CPU's isolation settings
// (umip, lazy x87), memory (frames, reservations, paging, stack guards: memory.ts), the modules, the
// clock and the timer queue, PCI, the local APIC (for the devices' MSI: lapic.ts), a network card
// (virtio-net, e1000, e1000e) behind the virtual switch and a swap disk (disk.ts: virtio-blk, NVMe or AHCI)
// when the machine has them, the PCI functions no driver took; then interrupts on, the self-tests, benchmarks
// or faults the command line asks for (`test=...`, `bench`; `profile`: profile.ts; `tlbflush=N`: hypercall.ts),
// `boot ok`, and the VMs of a `manifest` module (vmstart.ts) with COM1 as their monitor (the scheduler exits
// QEMU when every one has ended, or on `stop`); else the COM1 shell (`console`) until `exit`; then QEMU exits
// (`test=halt`: halts, as without isa-debug-exit).
import { i32, u32, rdtsc, panic, overlay, load8 } from "dsl";
import { entropyInit } from "./entropy.ts";
import {
  consoleInit, consoleWriteString, consoleWriteDecimal, consoleWriteHex, consoleWriteHex64, consoleWriteCString,
  consoleNewLine,
} from "./console.ts";
import { exitMachine, haltForever, EXIT_SUCCESS } from "./machine.ts";
import {
  MultibootInfo, MemoryMapEntry, multibootInfoAt, hasFlag, memoryMapEnd, nextMemoryMapEntry, memoryTypeName,
  usableMemoryKiB, commandLineLength, commandLineHasWord, commandLineNumber, MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_FLAG_MEMORY, MULTIBOOT_FLAG_COMMAND_LINE, MULTIBOOT_FLAG_MEMORY_MAP, MULTIBOOT_FLAG_BOOT_LOADER_NAME,
  MULTIBOOT_STRING_LIMIT,
} from "./multiboot.ts";
import { interruptsInit, interruptsEnable } from "./trap.ts";
import { gdtUmipEnabled } from "./gdt.ts";
import { clockInit } from "./clock.ts";
import { timerInit, timerCapacity, timerPoolFrames } from "./timer.ts";
import { runRequestedFault } from "./faults.ts";
import { runPlatformSelfTests, runPlatformBenchmarks } from "./platform-selftest.ts";
import { shellRun } from "./shell.ts";
import { memoryInit } from "./memory.ts";
import { pagingKeepCr3 } from "./paging.ts";
import { reportModules } from "./modules.ts";
import { pciInit, pciReport, pciReportUnsupported } from "./pci.ts";
import { lapicInit } from "./lapic.ts";
import { nicFound, nicInit, nicModerate } from "./nic.ts";
import { diskModerate } from "./disk.ts";
import { virtioBlkInit } from "./virtio-blk.ts";
import { nvmeInit } from "./nvme.ts";
import { ahciInit } from "./ahci.ts";
import { runBlockSelfTest, startBlockExercise } from "./blk-selftest.ts";
import { switchInit, switchSetBench } from "./switch.ts";
import { profileEnable } from "./profile.ts";
import { hypercallTlbFlushEvery } from "./hypercall.ts";
import { vmsStart, vmsRun } from "./vmstart.ts";
import {
  runMemorySelfTests, runMemoryBenchmarks, pagefaultUnmapped, pagefaultReadOnly, pagefaultNull,
} from "./memory-selftest.ts";

// The banner (tests and benches wait for it), its parts as functions.
function kernelName(): string { return "Denali/TS isolation kernel"; }
function kernelVersion(): string { return "0.1.0"; }

export function kmain(multibootMagic: u32, multibootInfo: u32): void {
  // Under QEMU -icount shift=0 the time-stamp counter counts instructions.
  const entryTime = rdtsc();
  consoleInit();
  consoleWriteString(kernelName());
  consoleWriteString(" ");
  consoleWriteString(kernelVersion());
  consoleNewLine();
  const bannerTime = rdtsc();
  consoleWriteString("boot instructions: ");
  consoleWriteDecimal(bannerTime - entryTime);
  consoleNewLine();

  if (multibootMagic !== MULTIBOOT_BOOTLOADER_MAGIC) {
    consoleWriteString("multiboot magic: 0x");
    consoleWriteHex(multibootMagic);
    consoleNewLine();
    panic("not started by a multiboot loader");
  }
  const info = multibootInfoAt(multibootInfo);
  reportBootLoader(info);
  reportMemory(info);
  reportCommandLine(info);
  if (commandLineHasWord(info, "profile")) profileEnable();   // profile.ts: before the handlers it wraps
  if (commandLineHasWord(info, "keepcr3")) {             // paging.ts: the run directory
    pagingKeepCr3(true);
    consoleWriteString("paging: VM switches between VMs of one image keep CR3 (keepcr3)");
    consoleNewLine();
  }
  const tlbFlushEvery = commandLineNumber(info, "tlbflush=");   // a measurement knob (hypercall.ts)
  if (tlbFlushEvery !== 0) {
    hypercallTlbFlushEvery(tlbFlushEvery);
    consoleWriteString("tlbflush: CR3 reloaded at one netSend hypercall in ");
    consoleWriteDecimal(tlbFlushEvery);
    consoleWriteString(" (a measurement of the emulator's TLB: bench:web --tlb-flush)");
    consoleNewLine();
  }
  interruptsInit();          // GDT and TSSs, IDT, 8259 PICs; exceptions are reported from here on
  reportIsolation();
  memoryInit(info);          // frames, reservations, paging (kernel-src/memory.ts)
  reportModules();
  clockInit();               // TSC calibration, PIT ticks at 1000 Hz, the monotonic clock
  entropyInit();             // the pool of the VMs' secrets, from the TSC after calibration (entropy.ts)
  timerInit();               // the timer queue, expired on every tick
  consoleWriteString("timers: a pool of ");
  consoleWriteDecimal(timerCapacity());
  consoleWriteString(" in ");
  consoleWriteDecimal(timerPoolFrames());
  consoleWriteString(" frames, one more per VM when VMs start");
  consoleNewLine();
  pciInit();                 // PCI configuration space: every function, its BARs and interrupt line
  pciReport();
  // The local APIC, for the devices' MSI and MSI-X (lapic.ts, msi.ts); irq=intx: every device on INTx#.
  lapicInit(commandLineHasWord(info, "irq=intx"));
  switchSetBench(commandLineHasWord(info, "bench"));
  if (nicFound()) {          // a network card a driver knows (nic.ts) behind the virtual switch (switch.ts)
    switchInit();
    nicInit();
  }
  // The swap disk (disk.ts; `denali boot --swap SIZE --disk virtio|nvme|ahci`): the first of these that finds
  // one it can drive; each prints what it found.
  virtioBlkInit();
  nvmeInit();
  ahciInit(commandLineHasWord(info, "ahci=no-ncq"));   // ahci=no-ncq: one command at a time (the tests)
  pciReportUnsupported();    // every PCI function no driver took: its ids and class
  interruptsEnable();
  runRequestedTest(info);
  runRequestedFault(info);   // test=divide-error, invalid-opcode, general-protection, page-fault, double-fault

  consoleWriteString("boot ok");
  consoleNewLine();
  // The virtio devices' interrupt moderation while VMs run (nic.ts, disk.ts): not for the boot's own waits,
  // nor under `bench`, whose per-frame paths (bench:net) must not depend on when a frame lands.
  if (!commandLineHasWord(info, "bench")) { nicModerate(); diskModerate(); }
  // A `manifest` module: run its VMs until every one has ended (the scheduler exits QEMU then).
  if (vmsStart(commandLineHasWord(info, "bench"), commandLineHasWord(info, "scheduler=timed"))) vmsRun();
  if (commandLineHasWord(info, "console")) shellRun();   // commands on COM1 until `exit`
  // test=halt: behave as on a machine without isa-debug-exit, where the port write below does nothing.
  if (commandLineHasWord(info, "test=halt")) haltForever();
  exitMachine(EXIT_SUCCESS);
}

/** The CPU state the isolation relies on (gdt.ts, fpu.ts; docs/virtual-architecture.md "Isolation"). */
function reportIsolation(): void {
  consoleWriteString("cpu: ldt null, umip ");
  consoleWriteString(gdtUmipEnabled() ? "on" : "not supported");
  consoleWriteString(", x87 per VM (lazy), sse off");
  consoleNewLine();
}

function reportBootLoader(info: MultibootInfo): void {
  consoleWriteString("multiboot flags: 0x");
  consoleWriteHex(info.flags);
  consoleNewLine();
  if (hasFlag(info, MULTIBOOT_FLAG_BOOT_LOADER_NAME)) {
    consoleWriteString("boot loader: ");
    consoleWriteCString(info.bootLoaderName, MULTIBOOT_STRING_LIMIT);
    consoleNewLine();
  }
}

/** mem_lower/mem_upper, every memory map entry, and the total usable memory. */
function reportMemory(info: MultibootInfo): void {
  if (hasFlag(info, MULTIBOOT_FLAG_MEMORY)) {
    consoleWriteString("memory: lower ");
    consoleWriteDecimal(info.memoryLowerKiB);
    consoleWriteString(" KiB, upper ");
    consoleWriteDecimal(info.memoryUpperKiB);
    consoleWriteString(" KiB");
    consoleNewLine();
  }
  if (!hasFlag(info, MULTIBOOT_FLAG_MEMORY_MAP)) {
    consoleWriteString("mmap: none");
    consoleNewLine();
    return;
  }
  const end = memoryMapEnd(info);
  for (let at = info.memoryMapAddress; at < end; at = nextMemoryMapEntry(at)) {
    const entry = overlay(MemoryMapEntry, at);
    consoleWriteString("mmap: base ");
    consoleWriteHex64(entry.baseHigh, entry.baseLow);
    consoleWriteString(" length ");
    consoleWriteHex64(entry.lengthHigh, entry.lengthLow);
    consoleWriteString(" type ");
    consoleWriteDecimal(entry.type);
    consoleWriteString(" (");
    consoleWriteString(memoryTypeName(entry.type));
    consoleWriteString(")");
    consoleNewLine();
  }
  const usable = usableMemoryKiB(info);
  consoleWriteString("usable memory: ");
  consoleWriteDecimal(usable);
  consoleWriteString(" KiB (");
  consoleWriteDecimal(usable >>> 10);
  consoleWriteString(" MiB)");
  consoleNewLine();
}

function reportCommandLine(info: MultibootInfo): void {
  if (!hasFlag(info, MULTIBOOT_FLAG_COMMAND_LINE)) return;
  consoleWriteString("command line: ");
  consoleWriteCString(info.commandLine, MULTIBOOT_STRING_LIMIT);
  consoleNewLine();
}

// ---- self tests requested on the command line (test/kernel/boot.test.ts) ---------------------------

/** test=scroll: 40 more lines (the screen scrolls); test=panic: panics; test=divide: divides by zero (a trap). */
function runRequestedTest(info: MultibootInfo): void {
  if (commandLineHasWord(info, "test=scroll")) {
    for (let line: u32 = 1; line <= 40; line++) {
      consoleWriteString("scroll line ");
      consoleWriteDecimal(line);
      consoleNewLine();
    }
  }
  if (commandLineHasWord(info, "test=panic")) deliberatePanic();
  if (commandLineHasWord(info, "test=selftest")) runMemorySelfTests();
  if (commandLineHasWord(info, "test=selftest")) runPlatformSelfTests();
  if (commandLineHasWord(info, "test=blk")) runBlockSelfTest();
  if (commandLineHasWord(info, "test=blk-busy")) startBlockExercise();
  if (commandLineHasWord(info, "test=pagefault-unmapped")) pagefaultUnmapped();
  if (commandLineHasWord(info, "test=pagefault-readonly")) pagefaultReadOnly();
  if (commandLineHasWord(info, "test=pagefault-null")) pagefaultNull();
  if (commandLineHasWord(info, "bench")) runMemoryBenchmarks();
  if (commandLineHasWord(info, "bench")) runPlatformBenchmarks();
  if (commandLineHasWord(info, "test=divide")) {
    // The byte that ends the command line is NUL: a zero the compiler cannot see.
    deliberateDivide(i32(load8(info.commandLine + commandLineLength(info))));
  }
}

function deliberatePanic(): void {
  panic("deliberate panic for the test suite");
}

function deliberateDivide(divisor: i32): void {
  const quotient = 1000 / divisor;
  consoleWriteString("quotient: ");
  consoleWriteDecimal(u32(quotient));
  consoleNewLine();
}
