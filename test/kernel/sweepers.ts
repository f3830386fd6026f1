// What the swap tests of never-idle VMs (swap-running.test.ts: hardware, bytecode-evict.test.ts: bytecode)
// read from a run of guest-src/demos/sweeper.ts: the VMs that swept intact, those whose note (printed from a
// page cold since their fill) arrived whole, the swap summary's counters, and QEMU's disk arguments.
import { swapDiskArgs } from "../../tools/qemu.ts";

/** The VMs that printed `vm ID swept PAGES pages ROUNDS rounds, 0 bad words`. */
export const swept = (out: string, pages: number, rounds: number) =>
  [...out.matchAll(new RegExp(`^\\[vm (\\d+)\\] vm \\1 swept ${pages} pages ${rounds} rounds, 0 bad words$`, "gm"))]
    .map(m => Number(m[1]));

/** The line each sweeper writes from its cold note page at the end (sweeper.ts NOTE_BYTES letters). */
const NOTE = "abcdefghijklmnopqrstuvwxyz".repeat(2).slice(0, 48);

/** The VMs whose note arrived whole. */
export const noted = (out: string) =>
  [...out.matchAll(new RegExp(`^\\[vm (\\d+)\\] ${NOTE}$`, "gm"))].map(m => Number(m[1]));

/** The swap summary's counters that concern eviction (kernel-src/swap-report.ts). */
export function swapCounters(out: string) {
  const line = /^swap: resident .*$/m.exec(out)?.[0] ?? "";
  const field = (re: RegExp) => Number(re.exec(line)?.[1] ?? NaN);
  return {
    line,
    writeOuts: field(/write-outs (\d+) /),
    pageOuts: field(/page-outs (\d+)/),
    running: field(/running-evictions (\d+)/),
    rescued: field(/\(rescued (\d+)\)/),
    pageIns: field(/page-ins (\d+)/),
    checksum: field(/checksum failures (\d+)/),
    readErrors: field(/read errors (\d+)/),
    kept: field(/clean pages kept (\d+)/),
    startedLate: field(/started late (\d+) of/),
    createdOut: field(/started late \d+ of (\d+)/),
    hypercallPageWaits: field(/hypercalls made again after a page-in (\d+)/),
  };
}

/** QEMU's arguments for the swap disk `image`, its writes throttled to `writeBytesPerSecond` (0: not). */
export function sweepDiskArgs(image: string, writeBytesPerSecond: number): string[] {
  return swapDiskArgs(image, "virtio").map(arg => writeBytesPerSecond
    && arg.startsWith("if=none") ? `${arg},throttling.bps-write=${writeBytesPerSecond}` : arg);
}
