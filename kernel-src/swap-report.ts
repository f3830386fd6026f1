// Swapping's counters and reports (issue 15): the state the swap files share (`counts`: the DSL imports
// functions and constants, not assignable `let`s, so what several of them change lives in one struct),
// the summary's and the console's `swap:` lines, and the bench lines (`bench swap-*`, npm run bench:swap).
// Contract: reading only, except notePeak and the console rates' own marks; nothing here changes a VM.
import { bool, u32 } from "dsl";
import { vmAt, vmCount, vmPrivateFrames, VM_ENDED, SWAP_OUT, SWAP_READING } from "./vm.ts";
import { framesFree, framesUsed } from "./frames.ts";
import { learnedReport } from "./swap-learn.ts";
import { pagingTableFrames } from "./paging.ts";
import { diskCapacity } from "./disk.ts";
import { schedulerLiveCount } from "./scheduler.ts";
import { clockTicks } from "./clock.ts";
import { hypercallMemoryWaits, hypercallPageWaits } from "./hypercall.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";

/** swap.ts's state and counters, shared by its files (the DSL has no live bindings of `let`s). */
class SwapCounts {
  active: bool = false;
  framesComing: u32 = 0;         // frames write-outs in flight will give back
  swappedOut: u32 = 0;           // VMs in SWAP_OUT now
  writeOuts: u32 = 0;
  readIns: u32 = 0;
  wokenByAlarm: u32 = 0;         // swapped-out VMs woken with only their alarm pending
  wokenByEvent: u32 = 0;         // ... with a frame (or another event) pending
  pagesWritten: u32 = 0;
  pagesRead: u32 = 0;
  checksumFailures: u32 = 0;
  readErrors: u32 = 0;
  writeFailures: u32 = 0;
  noRoom: u32 = 0;               // VMs left resident: no room on the disk, or too many pages for a map
  memoryWaits: u32 = 0;
  ackRuns: u32 = 0;              // idle VMs run before a write-out for the bare ACKs held for them (swap-out.ts)
  promiseWaits: u32 = 0;         // resident VMs woken when the pool did not hold their promise: they waited
  capWaits: u32 = 0;             // waits of VMs at their memory cap for their own pages to go out (swap.ts atCap)
  readingNow: u32 = 0;           // VMs in SWAP_READING
  pagingNow: u32 = 0;            // VMs in SWAP_PAGING
  pageIns: u32 = 0;              // pages read back alone, on a touch
  pagesEvicted: u32 = 0;         // pages written out alone (second chance: swap-evict.ts)
  runningEvictions: u32 = 0;     // of those, pages written out from runnable VMs (the running sweep)
  rescued: u32 = 0;              // pages touched while an eviction wrote them: mapped again
  pagesKept: u32 = 0;            // clean pages a write-out did not write: their copy on the disk kept
  readInsWhole: u32 = 0;         // read-ins in one disk request (their working set on adjacent positions)
  scattered: u32 = 0;            // write-outs with no room for a window (swap-out.ts planPositions)
  predictedOut: u32 = 0;         // write-outs of VMs not run since their start: the image's working set
  predictedIn: u32 = 0;          // read-ins of such VMs: what their image predicts of their working set
  predictedLeft: u32 = 0;        // pages those read-ins left on the disk (swap-learn.ts)
  granted: u32 = 0;              // memory waiters run again and not settled (WAITER_RUN_FRAMES each)
  createdOut: u32 = 0;           // VMs created swapped out (vmCreateSwappedOut)
  builtLate: u32 = 0;            // of those, the ones built since
  outInstructions: u32 = 0;
  inInstructions: u32 = 0;
  firstReadTick: u32 = 0;
  lastReadTick: u32 = 0;
  peakOut: u32 = 0;
  peakResident: u32 = 0;
  peakFrames: u32 = 0;           // VMs' private frames and all page tables then
  peakMapBytes: u32 = 0;         // the swap maps of the swapped-out VMs then
  mapBytesOut: u32 = 0;          // now
  benchEnabled: bool = false;
}

export const counts = new SwapCounts();

/** Records the memory at the most VMs swapped out so far. */
export function notePeak(): void {
  if (counts.swappedOut <= counts.peakOut) return;
  counts.peakOut = counts.swappedOut;
  const notStarted = counts.createdOut - counts.builtLate;
  const live = schedulerLiveCount();
  const away = counts.swappedOut + notStarted + counts.readingNow;
  counts.peakResident = live > away ? live - away : 0;
  counts.peakFrames = vmPrivateFrames() + pagingTableFrames();
  counts.peakMapBytes = counts.mapBytesOut;
}


/**
 * `swap: resident R, swapped out S, frames used F free X, write-outs W (P pages), read-ins I (P pages),
 * checksum failures C, read errors E, page-ins D, page-outs O, running-evictions R (rescued U), clean pages
 * kept K, read-ins in one request Q, write-outs without a window S, failed write-outs F, left resident N,
 * memory waits M (hypercalls H), at a memory cap C, hypercalls made again after a page-in G, run for held
 * acks J, woken short of their promise V, woken out by an alarm A by a frame B, working sets predicted at P
 * write-outs and R read-ins (Q pages left on the disk), started late L of K, disk T KiB`
 * (one line; nothing without a disk). Read-ins bring back working sets, Q of them in one disk request (S
 * write-outs found no run of free positions for theirs: swap-out.ts planPositions); page-ins the pages
 * touched (and read around); page-outs the pages given up alone (swap-evict.ts), R of them by runnable VMs,
 * U touched while being written (mapped again). A and B: swapped-out VMs woken with only their alarm
 * pending, or with more. P and R: write-outs and read-ins of VMs that had not run since their start ended, whose
 * working set was their image's (swap-learn.ts); Q: the pages those read-ins left on the disk.
 */
export function swapReport(): void {
  if (!counts.active) return;
  let resident: u32 = 0;
  for (let i: u32 = 0; i < vmCount(); i++) {
    const vm = vmAt(i);
    if (vm.state !== VM_ENDED && vm.swapState !== SWAP_OUT && vm.swapState !== SWAP_READING) resident++;
  }
  consoleWriteString("swap: resident ");
  consoleWriteDecimal(resident);
  consoleWriteString(", swapped out ");
  consoleWriteDecimal(counts.swappedOut);
  consoleWriteString(", frames used ");
  consoleWriteDecimal(framesUsed());
  consoleWriteString(" free ");
  consoleWriteDecimal(framesFree());
  consoleWriteString(", write-outs ");
  consoleWriteDecimal(counts.writeOuts);
  consoleWriteString(" (");
  consoleWriteDecimal(counts.pagesWritten);
  consoleWriteString(" pages), read-ins ");
  consoleWriteDecimal(counts.readIns);
  consoleWriteString(" (");
  consoleWriteDecimal(counts.pagesRead);
  consoleWriteString(" pages), checksum failures ");
  consoleWriteDecimal(counts.checksumFailures);
  consoleWriteString(", read errors ");
  consoleWriteDecimal(counts.readErrors);
  consoleWriteString(", page-ins ");
  consoleWriteDecimal(counts.pageIns);
  consoleWriteString(", page-outs ");
  consoleWriteDecimal(counts.pagesEvicted);
  consoleWriteString(", running-evictions ");
  consoleWriteDecimal(counts.runningEvictions);
  consoleWriteString(" (rescued ");
  consoleWriteDecimal(counts.rescued);
  consoleWriteString(")");
  consoleWriteString(", clean pages kept ");
  consoleWriteDecimal(counts.pagesKept);
  consoleWriteString(", read-ins in one request ");
  consoleWriteDecimal(counts.readInsWhole);
  consoleWriteString(", write-outs without a window ");
  consoleWriteDecimal(counts.scattered);
  consoleWriteString(", failed write-outs ");
  consoleWriteDecimal(counts.writeFailures);
  consoleWriteString(", left resident ");
  consoleWriteDecimal(counts.noRoom);
  consoleWriteString(", memory waits ");
  consoleWriteDecimal(counts.memoryWaits);
  consoleWriteString(" (hypercalls ");
  consoleWriteDecimal(hypercallMemoryWaits());
  consoleWriteString("), at a memory cap ");
  consoleWriteDecimal(counts.capWaits);
  consoleWriteString(", hypercalls made again after a page-in ");
  consoleWriteDecimal(hypercallPageWaits());
  consoleWriteString(", run for held acks ");
  consoleWriteDecimal(counts.ackRuns);
  consoleWriteString(", woken short of their promise ");
  consoleWriteDecimal(counts.promiseWaits);
  consoleWriteString(", woken out by an alarm ");
  consoleWriteDecimal(counts.wokenByAlarm);
  consoleWriteString(" by a frame ");
  consoleWriteDecimal(counts.wokenByEvent);
  consoleWriteString(", working sets predicted at ");
  consoleWriteDecimal(counts.predictedOut);
  consoleWriteString(" write-outs and ");
  consoleWriteDecimal(counts.predictedIn);
  consoleWriteString(" read-ins (");
  consoleWriteDecimal(counts.predictedLeft);
  consoleWriteString(" pages left on the disk), started late ");
  consoleWriteDecimal(counts.builtLate);
  consoleWriteString(" of ");
  consoleWriteDecimal(counts.createdOut);
  consoleWriteString(", disk ");
  consoleWriteDecimal(diskCapacity() >>> 1);
  consoleWriteString(" KiB");
  consoleNewLine();
  learnedReport();
  if (counts.benchEnabled) benchReport();
}

// The rates of the console's `swap`: counts at its last use (or when swapping started).
let rateTick: u32 = 0;
/** The rates count from now (swapping starts). */
export function swapRatesStart(): void { rateTick = clockTicks(); }
let rateReadIns: u32 = 0;
let rateWriteOuts: u32 = 0;

/**
 * For the console's `swap` (after swapReport): `swap: R read-ins/s, W write-outs/s over the last T ms`,
 * the rates since the command was last given (or since swapping started).
 */
export function swapRates(): void {
  if (!counts.active) return;
  const now = clockTicks();                         // 1 ms ticks (clock.ts)
  const elapsed = now - rateTick === 0 ? u32(1) : now - rateTick;
  consoleWriteString("swap: ");
  consoleWriteDecimal(perSecond(counts.readIns - rateReadIns, elapsed));
  consoleWriteString(" read-ins/s, ");
  consoleWriteDecimal(perSecond(counts.writeOuts - rateWriteOuts, elapsed));
  consoleWriteString(" write-outs/s over the last ");
  consoleWriteDecimal(elapsed);
  consoleWriteString(" ms");
  consoleNewLine();
  rateTick = now;
  rateReadIns = counts.readIns;
  rateWriteOuts = counts.writeOuts;
}

/** `count` events in `ms` milliseconds, per second (rounded down; no overflow below 4 million events). */
function perSecond(count: u32, ms: u32): u32 { return count < 4000000 ? count * 1000 / ms : count / ms * 1000; }

/**
 * `bench swap-out-per-page N`, `bench swap-in-per-page N` (kernel instructions under -icount),
 * `bench swap-read-span-ticks T pages P vms V` (clock ticks from the first read-in to the last),
 * `bench swap-peak out S resident R frames F map-bytes B` (at the most VMs swapped out at once).
 */
function benchReport(): void {
  const pagesOut = counts.pagesWritten + counts.pagesEvicted;
  benchLine("swap-out-per-page ", pagesOut === 0 ? 0 : counts.outInstructions / pagesOut);
  const pagesIn = counts.pagesRead + counts.pageIns;
  benchLine("swap-in-per-page ", pagesIn === 0 ? 0 : counts.inInstructions / pagesIn);
  consoleWriteString("bench swap-read-span-ticks ");
  consoleWriteDecimal(counts.lastReadTick - counts.firstReadTick);
  consoleWriteString(" pages ");
  consoleWriteDecimal(counts.pagesRead);
  consoleWriteString(" vms ");
  consoleWriteDecimal(counts.readIns);
  consoleNewLine();
  consoleWriteString("bench swap-peak out ");
  consoleWriteDecimal(counts.peakOut);
  consoleWriteString(" resident ");
  consoleWriteDecimal(counts.peakResident);
  consoleWriteString(" frames ");
  consoleWriteDecimal(counts.peakFrames);
  consoleWriteString(" map-bytes ");
  consoleWriteDecimal(counts.peakMapBytes);
  consoleNewLine();
}

function benchLine(name: string, value: u32): void {
  consoleWriteString("bench ");
  consoleWriteString(name);
  consoleWriteDecimal(value);
  consoleNewLine();
}
