// The working set of a VM that has not run since its start, learned from its image's other VMs (swap-out.ts uses it;
// issue 15). A write-out measures a VM's working set by the accessed bits of its pages: what it touched since it
// came back. A VM written out right after its start (its first idle) has touched only its start: every page it
// initialised, many never touched again (an httpd VM's large arrays' length words, its built-once answers), and
// read back with it they take frames and disk time at each of its first residencies. So at a VM's first idle its
// accessed bits are cleared (swapStartDone), and until it runs again its working set is its image's: the pages
// that its image's VMs touched in at least a quarter of their recent measured residencies (each page a score,
// an average decaying by 1/8 a measured write-out: learnFrom), once LEARN_MIN of them were measured. VMs of one
// image run one program at the same addresses, so they touch the same pages. The prediction only chooses what is
// read back at once; a page left out comes back when touched (a page-in), so a wrong one costs time, never data.
// Contract: reading and clearing accessed bits only (swapStartDone); the scores are the kernel's own. The `swap`
// report lists each image's learned working set (learnedReport).
import { bool, u32, load32, store32, addressOf } from "dsl";
import { Vm, vmClearAccessed, vmIsBytecode, RUN_STARTED, RUN_SERVING } from "./vm.ts";
import { images } from "./elf.ts";
import { PAGE_SHIFT } from "./frames.ts";
import { PAGE_ACCESSED } from "./paging.ts";
import { GUEST_BASE } from "../abi/boot.ts";
import { nextPrivate, privateSlot } from "./swap-map.ts";
import { consoleWriteString, consoleWriteDecimal, consoleNewLine } from "./console.ts";

/** Images with scores (elf.ts IMAGE_LIMIT) and the pages of each scored (larger VMs are not predicted). */
const LEARN_IMAGES: u32 = 64;
const LEARN_PAGES: u32 = 1024;
const LEARN_SHIFT = 10;                          // log2(LEARN_PAGES)
/** Measured write-outs of an image before its VMs' working sets are predicted. */
const LEARN_MIN: u32 = 8;
/** A page touched adds this to its score; every score loses 1/8 a measured write-out (at most 256: 255). */
const TOUCH_SCORE: u32 = 32;
const SCORE_MAX: u32 = 255;
/** A page is predicted when its score is at least this: touched in about a quarter of the recent ones. */
const PREDICT_SCORE: u32 = 64;

const scores = new Uint8Array(65536);            // LEARN_IMAGES * LEARN_PAGES
const measuredCount = new Uint32Array(64);       // LEARN_IMAGES
/** Which image the scores of a slot are for (elf.ts reuses slots): its module's address and entry. */
const scoredModule = new Uint32Array(64);
const scoredEntry = new Uint32Array(64);
/** The image whose scores predictedPage reads (predicts set it). */
let predictedBase: u32 = 0;

function pagesOf(vm: Vm): u32 { return vm.memorySize >>> PAGE_SHIFT; }

/** The scores of slot `i` are its image's (elf.ts reuses slots). */
function scoresImage(i: u32): bool {
  return scoredModule[i] === images[i].moduleStart && scoredEntry[i] === images[i].entry;
}

/** True when the VM's image slot scores this image (a slot given to another image starts over). */
function scoring(vm: Vm): bool {
  const i = vm.imageIndex;
  if (i >= LEARN_IMAGES || vmIsBytecode(vm) || pagesOf(vm) > LEARN_PAGES) return false;
  if (scoresImage(i)) return true;
  scoredModule[i] = images[i].moduleStart;
  scoredEntry[i] = images[i].entry;
  measuredCount[i] = 0;
  const base = i << LEARN_SHIFT;
  for (let p: u32 = 0; p < LEARN_PAGES; p++) scores[base + p] = 0;
  return true;
}

/**
 * The VM idles for the first time, its start done: its accessed bits are cleared, so that a write-out measures
 * what it touches from now on (the VM is the current one: clearing invalidates the translations it has cached).
 */
export function swapStartDone(vm: Vm): void {
  vm.runPhase = RUN_STARTED;
  if (!scoring(vm)) return;
  const pages = pagesOf(vm);
  for (let page = nextPrivate(vm, 0, pages); page < pages; page = nextPrivate(vm, page + 1, pages)) {
    if ((load32(privateSlot()) & PAGE_ACCESSED) !== 0) vmClearAccessed(vm, GUEST_BASE + (page << PAGE_SHIFT));
  }
}

/**
 * A measured write-out of the VM (its accessed bits say its working set): its image's scores learn from it. It
 * has run since its start (a VM that runs touches pages): RUN_SERVING.
 */
export function learnFrom(vm: Vm): void {
  if (vm.runPhase === RUN_STARTED) vm.runPhase = RUN_SERVING;
  if (!scoring(vm)) return;
  const base = vm.imageIndex << LEARN_SHIFT, pages = pagesOf(vm);
  // Each score loses an eighth, four at a time: a byte's x >>> 3 is 5 bits, and x - (x >>> 3) never borrows from
  // the next byte (the scores of up to 3 pages past the VM's last, its image's too, decay with them).
  const words = (pages + 3) >>> 2, at = addressOf(scores) + base;
  for (let w: u32 = 0; w < words; w++) {
    const v = load32(at + (w << 2));
    store32(at + (w << 2), u32(v - ((v >>> 3) & 0x1f1f1f1f)));
  }
  for (let page = nextPrivate(vm, 0, pages); page < pages; page = nextPrivate(vm, page + 1, pages)) {
    if ((load32(privateSlot()) & PAGE_ACCESSED) === 0) continue;
    const score = u32(scores[base + page]) + TOUCH_SCORE;
    scores[base + page] = score > SCORE_MAX ? SCORE_MAX : score;
  }
  measuredCount[vm.imageIndex]++;
}

/** True when the VM's image has learned enough to predict a working set; predictedPage then reads its scores. */
export function predicts(vm: Vm): bool {
  if (!scoring(vm) || measuredCount[vm.imageIndex] < LEARN_MIN) return false;
  predictedBase = vm.imageIndex << LEARN_SHIFT;
  return true;
}

/** Page `page` (from GUEST_BASE) is in the working set predicts() chose. */
export function predictedPage(page: u32): bool { return scores[predictedBase + page] >= PREDICT_SCORE; }

/** Ranges of pages learnedReport lists before it ends the list with `...`. */
const REPORT_RANGES: u32 = 24;

/**
 * `swap: image I's working set: N pages (A-B C ...) learned from M write-outs` for each image with measured
 * write-outs: the pages a VM of it that has not run since its start comes back with (pages from GUEST_BASE).
 */
export function learnedReport(): void {
  for (let i: u32 = 0; i < LEARN_IMAGES; i++) {
    if (measuredCount[i] === 0 || !scoresImage(i)) continue;
    const base = i << LEARN_SHIFT;
    let count: u32 = 0;
    for (let p: u32 = 0; p < LEARN_PAGES; p++) if (scores[base + p] >= PREDICT_SCORE) count++;
    consoleWriteString("swap: image ");
    consoleWriteDecimal(i);
    consoleWriteString("'s working set: ");
    consoleWriteDecimal(count);
    consoleWriteString(" pages (");
    let ranges: u32 = 0;
    for (let p: u32 = 0; p < LEARN_PAGES; p++) {
      if (scores[base + p] < PREDICT_SCORE) continue;
      let last = p;
      while (last + 1 < LEARN_PAGES && scores[base + last + 1] >= PREDICT_SCORE) last++;
      if (ranges === REPORT_RANGES) { consoleWriteString(" ..."); break; }
      if (ranges !== 0) consoleWriteString(" ");
      consoleWriteDecimal(p);
      if (last !== p) { consoleWriteString("-"); consoleWriteDecimal(last); }
      ranges++;
      p = last;
    }
    consoleWriteString(") learned from ");
    consoleWriteDecimal(measuredCount[i]);
    consoleWriteString(" write-outs");
    consoleNewLine();
  }
}
