// The in-kernel interpreter's column of `npm run bench:codegen` (issue 18, docs/bytecode.md "Bytecode VMs"):
// each bench/codegen program compiled as a guest program (the -O2 passes, guest-src/runtime/program.ts: its
// prints and exit are hypercalls) to DNBC and run as the only VM of a kernel in QEMU under
// `-icount shift=0,sleep=off`, one boot a program. The program's two rdtsc reads are the interpreter's
// `rdtsc` intrinsic, which reads the machine's TSC: so the difference it prints counts every x86
// instruction the kernel executed in between, interpreting bench() (and the timer's few interrupts that
// land meanwhile), measured exactly as the native column, which counts the x86 instructions of bench()
// compiled by our -O2. A run must print the program's checksum and exit 0.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { runQemu } from '../tools/qemu.ts';
import { buildKernel, compileOrThrow, bytecodeSpan, ROOT } from '../tools/build.ts';
import { encodeModule } from '../compiler/bytecode/encode.ts';
import { writeManifest, vmSummaries } from '../test/kernel/guests/build.ts';

const PROGRAM_GUEST_RUNTIME = join(ROOT, 'guest-src', 'runtime', 'program.ts');
const KERNEL_MEMORY_MIB = 64;

interface KernelRun { checksum: string; count: number; problem?: string }

/** Builds the kernel (-O2) into `work`; returns the ELF's path. */
export function buildBenchKernel(work: string): string {
  return buildKernel(2, work, work).elfPath;
}

/** Runs bench/codegen/NAME.ts as the one bytecode VM of `kernelElf`: the checksum and count it printed. */
export async function runInKernel(kernelElf: string, file: string, name: string, work: string): Promise<KernelRun> {
  const module = compileOrThrow({ files: [file], runtime: PROGRAM_GUEST_RUNTIME, optimize: 2 });
  const path = join(work, `${name}.dnbc`);
  writeFileSync(path, encodeModule(module));
  const memoryKiB = Math.ceil((bytecodeSpan(module) + 4096) / 4096) * 4 + 8;
  const manifest = writeManifest(work, `manifest-${name}`, [{ moduleIndex: 0, vmCount: 1, memoryKiB, argument: 0,
    bytecode: true }]);
  const run = await runQemu({ kernel: kernelElf, initrd: [path, manifest] },
    { timeoutMs: 300_000, memoryMiB: KERNEL_MEMORY_MIB, icount: true });
  const serial = run.serial.replace(/\r/g, '');
  const lines = serial.split('\n').filter(l => l.startsWith('[vm 0] ')).map(l => l.slice('[vm 0] '.length));
  const outcome = vmSummaries(serial).get(0)?.outcome ?? (run.timedOut ? 'QEMU timed out' : 'no summary');
  const result = { checksum: lines[0] ?? '', count: Number(lines[1]) };
  return outcome === 'exit status 0' ? result : { ...result, problem: `${outcome}; ${serial.slice(-600)}` };
}
