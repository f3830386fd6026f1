// npm run bench:kernel — the kernel's deterministic costs, in instructions.
//
// Builds kernel-src/ (-O2) into a temporary directory and boots it twice with
// `qemu -icount shift=0,sleep=off -m 1024 -append bench`. Under -icount the TSC counts guest
// instructions, so every `bench NAME N` line the kernel prints (kernel-src/memory-selftest.ts,
// platform-selftest.ts: interrupt entry -> handler -> iret, frame alloc+free, kalloc+kfree,
// map+unmap of one page, clock read, timer start+cancel, TSC rate) is an exact instruction count;
// the two boots must agree.
//
// Boot cost: the kernel prints `boot instructions: N`, the rdtsc difference from kmain's first
// instruction to the end of the banner. The instructions before that, from the ELF entry point
// (_start: stack, then __start: data initializers, then kmain's prologue) are counted by a third boot
// with QEMU single-stepping and logging every executed instruction in those functions only
// (-singlestep -d exec,nochain -dfilter RANGES); so entry->banner = that count + N.
//
// Memory: the 1 GiB boot's "free memory" line is checked against the memory map it printed: every
// whole usable frame from 1 MiB to 1 GiB, minus the reserved frames (image, boot information),
// minus the page tables.
//
// Writes bench/results/kernel.json and bench/results/kernel.md and prints the table.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { buildKernel, ROOT, type BuiltImage } from '../tools/build.ts';
import { Progress } from '../tools/progress.ts';
import { writeBenchPlot } from './plots.ts';
import { runQemu } from '../tools/qemu.ts';

const MEMORY_MIB = 1024;
const PAGE = 4096;

/** What each bench line measures (kernel-src/*-selftest.ts). */
const DESCRIPTIONS: Record<string, string> = {
  'interrupt-round-trip': 'exception entry -> handler -> iret: ud2 (#UD), the generated stub, a hook that skips it (loop cost subtracted)',
  'frame-alloc-free': 'frame allocator: alloc + free of one 4 KiB frame (loop included)',
  'kalloc-kfree-64': 'kernel allocator: kalloc + kfree of a 64-byte object (loop included)',
  'map-unmap-page': 'paging: map + unmap of one page, TLB invalidation included (loop included)',
  'clock-read': 'monotonic clock read: TSC and tick count to 64-bit ns (loop cost subtracted)',
  'timer-start-cancel': 'timer queue: start + cancel of one timer (loop cost subtracted)',
  'timer-start-cancel-pending-1000':
    'timer queue: the same with 1,000 timers pending, the new one earliest (the timing wheel walks its bucket)',
  'timer-start-cancel-pending-8000':
    'timer queue: the same with 8,000 timers pending (wheel: pending / 1,024 per bucket; heap was O(log n))',
  'tsc-khz': 'TSC rate calibrated against the PIT, kHz (1 GHz under -icount)',
  'tsc-per-pit-tick': 'TSC cycles per PIT tick (1 ms)',
};

interface KernelBench {
  commit: string;
  qemu: string;
  command: string;
  memoryMiB: number;
  bench: Record<string, number>;
  bootInstructions: number;
  entryToKmainRdtsc: number;
  entryToBanner: number;
  memory: {
    usableKiB: number; availableFrames: number; expectedAvailableFrames: number; reservedFrames: number;
    tableFrames: number; freeKiB: number; expectedFreeKiB: number; correct: boolean;
  };
}

const bootBench = (elf: string) => runQemu({ kernel: elf }, { icount: true, memoryMiB: MEMORY_MIB, timeoutMs: 120_000, extraArgs: ['-append', 'bench'] });

function match(out: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(out);
  if (!m) throw new Error(`bench:kernel: no ${what} line in the kernel's output:\n${out.slice(-2000)}`);
  return m;
}

function parseRun(out: string) {
  const bench = Object.fromEntries([...out.matchAll(/^bench (\S+) (\d+)$/gm)].map(m => [m[1], Number(m[2])]));
  const bootInstructions = Number(match(out, /^boot instructions: (\d+)$/m, 'boot instructions')[1]);
  const usableKiB = Number(match(out, /^usable memory: (\d+) KiB/m, 'usable memory')[1]);
  const frames = match(out, /^frames: available (\d+) free (\d+) reserved (\d+)$/m, 'frames');
  const tableFrames = Number(match(out, /^paging: on, kernel space 0x[0-9a-f]{8}-0x[0-9a-f]{8}, (\d+) table frames$/m, 'paging')[1]);
  const freeKiB = Number(match(out, /^free memory: (\d+) KiB/m, 'free memory')[1]);
  // Whole usable frames of the map at or above 1 MiB and below 1 GiB (the kernel space).
  let expectedAvailableFrames = 0;
  for (const m of out.matchAll(/^mmap: base 0x([0-9a-f]{16}) length 0x([0-9a-f]{16}) type (\d+)/gm)) {
    if (m[3] !== '1') continue;
    const base = Number(BigInt(`0x${m[1]}`)), end = base + Number(BigInt(`0x${m[2]}`));
    const first = Math.ceil(Math.max(base, 0x100000) / PAGE), last = Math.floor(Math.min(end, 0x40000000) / PAGE);
    if (last > first) expectedAvailableFrames += last - first;
  }
  const availableFrames = Number(frames[1]), reservedFrames = Number(frames[3]);
  const expectedFreeKiB = (expectedAvailableFrames - reservedFrames - tableFrames) * 4;
  return {
    bench, bootInstructions,
    memory: {
      usableKiB, availableFrames, expectedAvailableFrames, reservedFrames, tableFrames, freeKiB, expectedFreeKiB,
      correct: availableFrames === expectedAvailableFrames && freeKiB === expectedFreeKiB,
    },
  };
}

/** Address ranges of the entry path: _start, __start, and kmain up to and including its first rdtsc. */
function entryPath(built: BuiltImage): { ranges: [number, number][]; firstRdtsc: number } {
  const { symbols, listing } = built.image;
  const sym = (name: string) => {
    const s = symbols.get(name);
    if (!s) throw new Error(`bench:kernel: no symbol ${name}`);
    return s;
  };
  const kmain = sym('kmain');
  // The listing: "; ---- kmain @ ADDR ..." then "  ADDR  BYTES  mnemonic operands".
  const section = listing.slice(listing.indexOf('\nkmain:\n'));
  const rdtsc = /^ {2}([0-9A-F]{8}) +[0-9A-F]+ +rdtsc\b/m.exec(section);
  if (!rdtsc) throw new Error('bench:kernel: no rdtsc in kmain');
  const firstRdtsc = parseInt(rdtsc[1], 16);
  const ranges: [number, number][] = [[sym('_start').address, sym('_start').size], [sym('__start').address, sym('__start').size], [kmain.address, firstRdtsc + 2 - kmain.address]];
  // Every call on that path must go to the next function of the path, or the count below would miss it.
  const allowed = new Set([sym('__start').address, kmain.address]);
  for (const line of listing.split('\n')) {
    const m = /^ {2}([0-9A-F]{8}) +[0-9A-F]+ +call +([0-9A-F]+)h/.exec(line);
    if (!m) continue;
    const at = parseInt(m[1], 16);
    if (ranges.some(([start, size]) => at >= start && at < start + size) && !allowed.has(parseInt(m[2], 16))) {
      throw new Error(`bench:kernel: the entry path calls 0x${m[2]} at 0x${m[1]}; widen the traced ranges`);
    }
  }
  return { ranges, firstRdtsc };
}

/** Instructions executed from the ELF entry point up to (not including) kmain's first rdtsc. */
async function entryToKmainRdtsc(built: BuiltImage, dir: string): Promise<number> {
  const { ranges, firstRdtsc } = entryPath(built);
  if (built.image.entryAddress !== ranges[0][0]) throw new Error('bench:kernel: the ELF entry is not _start');
  const log = join(dir, 'entry-trace.log');
  const dfilter = ranges.map(([start, size]) => `0x${start.toString(16)}+${size}`).join(',');
  await runQemu({ kernel: built.elfPath }, { icount: true, memoryMiB: MEMORY_MIB, timeoutMs: 120_000, extraArgs: ['-singlestep', '-d', 'exec,nochain', '-dfilter', dfilter, '-D', log] });
  if (!existsSync(log)) throw new Error('bench:kernel: QEMU wrote no trace');
  // "Trace 0: 0xHOST [CS_BASE/EIP/FLAGS/...] name"; an I/O instruction re-executed under -icount shows
  // as "cpu_io_recompile: rewound execution of TB to EIP" followed by a second Trace line: count it once.
  let count = 0;
  for (const line of readFileSync(log, 'latin1').split('\n')) {
    if (line.startsWith('cpu_io_recompile: rewound')) { count--; continue; }
    const m = /^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+\/([0-9a-f]+)\//.exec(line);
    if (!m) continue;
    if (parseInt(m[1], 16) === firstRdtsc) return count;
    count++;
  }
  throw new Error(`bench:kernel: the trace never reached kmain's rdtsc at 0x${firstRdtsc.toString(16)}`);
}

function markdown(r: KernelBench): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const rates = (name: string) => name.startsWith('tsc-');
  const rows = Object.entries(r.bench).filter(([name]) => !rates(name)).map(([name, n]) => `| ${name} | ${DESCRIPTIONS[name] ?? ''} | ${fmt(n)} |`);
  const rateText = Object.entries(r.bench).filter(([name]) => rates(name)).map(([name, n]) => `${name} ${fmt(n)}`).join(', ');
  const m = r.memory;
  return [
    `Kernel costs in instructions, \`qemu-system-i386 -icount shift=0,sleep=off -m ${r.memoryMiB}\` (\`npm run bench:kernel\`; kernel at commit ${r.commit}, ${r.qemu}). Identical on every run.`,
    '',
    '| bench | what | instructions |',
    '|---|---|---|',
    ...rows,
    `| boot-instructions | kmain's first instruction to the end of the banner (\`boot instructions:\` line) | ${fmt(r.bootInstructions)} |`,
    `| entry-to-banner | ELF entry (_start) to the end of the banner: ${fmt(r.entryToKmainRdtsc)} (trace of _start, __start, kmain's prologue) + ${fmt(r.bootInstructions)} | ${fmt(r.entryToBanner)} |`,
    '',
    `TSC calibration against the PIT: ${rateText} (one instruction per virtual ns under -icount shift=0).`,
    '',
    `Memory with -m ${r.memoryMiB}: map usable ${fmt(m.usableKiB)} KiB; frames from 1 MiB to 1 GiB ${fmt(m.availableFrames)} (map: ${fmt(m.expectedAvailableFrames)}), reserved ${m.reservedFrames} (image, boot information), page tables ${m.tableFrames}; ` +
      `free memory ${fmt(m.freeKiB)} KiB (${Math.floor(m.freeKiB / 1024)} MiB), expected ${fmt(m.expectedFreeKiB)} KiB: ${m.correct ? 'right' : 'WRONG'}.`,
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'denali-bench-kernel-'));
  const progress = new Progress('bench:kernel', 3);
  try {
    progress.update(0, 'building the kernel');
    const built = buildKernel(2, dir, dir);
    progress.update(1, 'two bench boots under -icount');
    const [a, b] = await Promise.all([bootBench(built.elfPath), bootBench(built.elfPath)]);
    for (const r of [a, b]) if (r.debugExit !== 0) throw new Error(`bench:kernel: the bench boot did not exit cleanly (status ${r.status}):\n${r.serial.slice(-2000)}`);
    const first = parseRun(a.serial.replace(/\r/g, '')), second = parseRun(b.serial.replace(/\r/g, ''));
    if (JSON.stringify(first) !== JSON.stringify(second)) throw new Error(`bench:kernel: two boots disagree:\n${JSON.stringify(first)}\n${JSON.stringify(second)}`);
    if (Object.keys(first.bench).length === 0) throw new Error('bench:kernel: no bench lines');
    progress.update(2, 'entry to kmain');
    const entry = await entryToKmainRdtsc(built, dir);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    const result: KernelBench = {
      commit: git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no', '--', 'kernel-src', 'compiler', 'dsl') ? ' (kernel-src/, compiler/ or dsl/ modified in the work tree)' : ''),
      qemu: execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).split('\n')[0],
      command: `qemu-system-i386 -kernel denali.elf -append bench -icount shift=0,sleep=off -m ${MEMORY_MIB}`,
      memoryMiB: MEMORY_MIB,
      bench: first.bench,
      bootInstructions: first.bootInstructions,
      entryToKmainRdtsc: entry,
      entryToBanner: entry + first.bootInstructions,
      memory: first.memory,
    };
    const md = markdown(result);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'kernel.json'), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(join(ROOT, 'bench', 'results', 'kernel.md'), md);
    console.log(md);
    writeBenchPlot('kernel');
    progress.finish('written: bench/results/kernel.json, bench/results/kernel.md, bench/results/kernel.png');
    if (!result.memory.correct) { console.error('bench:kernel: the free memory reported is not what the memory map gives'); return 1; }
    if (result.entryToBanner >= 1_000_000) { console.error('bench:kernel: entry to banner takes a million instructions or more (issue 3: under a million)'); return 1; }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(code => { process.exitCode = code; }, e => { console.error(e instanceof Error ? e.message : e); process.exitCode = 1; });
