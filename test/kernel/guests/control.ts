// The control VM of test/kernel/control.test.ts: it drives the management hypercalls (kernel-src/control.ts)
// and prints what it saw, one `control ...` line each, for the test to check. The image it pushes is
// embedded at build time (guests/build.ts buildControlGuest writes it into `pushedImage`: its length
// in bytes 0..3, the ELF from byte 4). The argument's low 16 bits are N, the VMs of each round; with bit 16
// (NO_GUARANTEE) the rounds' VMs reserve no demand-zero memory (so that they can crowd a swap disk).
// In order:
//   control start frames-free F slots S live L control C kept K
//   control others-ended yes                        the manifest's other VMs have ended (their ids free)
//   control refused NAME RESULT unchanged yes|no     a corrupted copy of the image, or bad arguments:
//                                                    the error, and whether frames, slots, live VMs stayed
//   control round R created FIRST                   N VMs of the image at 10.0.1.1.., 512 KiB each
//   control round R ready yes|no                    every new VM has written to the console and idles
//   control round R vm ID state S flags F ip A.B.C.D memory M resident K reserved V console C argument X
//   control round R console ID TEXT                 the first line VM FIRST wrote (vmConsole)
//   control round R stopped N failed 0 ended-stopped N busy B   (B: stops answered EAGAIN, then retried)
//   control round R frames before B during D after A own O1 O2 O3   (free frames; the control VM's own)
//   control errors ...                              vmStop, vmList and vmConsole refusals
//   control done
import { bool, i32, u32, print, write, exit, overlay, addressOf, sizeOf, memoryCopy } from "dsl";
import { BootInfo } from "../../../abi/boot.ts";
import {
  VmCreateRequest, VmStatus, MachineStatus, VM_STATE_IDLE, VM_STATE_ENDED, VM_END_STOPPED, EAGAIN,
} from "../../../abi/hypercalls.ts";
import {
  vmCreate, vmStop, vmList, vmConsole, machineStatus, sleep,
} from "../../../guest-src/runtime/hypercalls.ts";
import { consoleWriteBytes } from "./runtime.ts";

/** The image to push (written by the test's build: length, then the bytes). */
const pushedImage = new Uint8Array(262144);
const scratch = new Uint8Array(262144);
const request = new VmCreateRequest();
const machine = new MachineStatus();
const records = new Uint8Array(16384);
const text = new Uint8Array(2048);
/** 10.0.1.1 in network byte order (its bytes in memory a.b.c.d). */
const FIRST_IP: u32 = 0x0101000a;
const PUSHED_MEMORY_KIB: u32 = 512;
const WAIT_ROUNDS = 500;

let memoryEnd: u32 = 0;
const NO_GUARANTEE: u32 = 0x10000;
let guaranteedKiB: u32 = 64;
let imageLength: u32 = 0;
let framesBefore: u32 = 0, slotsBefore: u32 = 0, liveBefore: u32 = 0;

function status(): MachineStatus {
  machineStatus(addressOf(machine));
  return machine;
}

function imageAt(): u32 { return addressOf(pushedImage) + 4; }

function setRequest(address: u32, length: u32, count: u32, memoryKiB: u32): void {
  request.imageAddress = address;
  request.imageLength = length;
  request.count = count;
  request.memoryKiB = memoryKiB;
  request.guaranteedKiB = guaranteedKiB;
  request.argument = 0;
  request.ipAddress = FIRST_IP;
  request.netmask = 0;
  request.gateway = 0;
}

function remember(): void {
  const m = status();
  framesBefore = m.framesFree;
  slotsBefore = m.vmSlots;
  liveBefore = m.vmsLive;
}

/** `control refused NAME RESULT unchanged yes|no` after a call that must change nothing. */
function refused(name: string, result: i32): void {
  const m = status();
  const same = m.framesFree === framesBefore && m.vmSlots === slotsBefore && m.vmsLive === liveBefore;
  write("control refused "); write(name); write(" "); write(result); print(same ? " unchanged yes" : " unchanged no");
}

function put32(offset: u32, value: u32): void {
  scratch[offset] = value;
  scratch[offset + 1] = value >>> 8;
  scratch[offset + 2] = value >>> 16;
  scratch[offset + 3] = value >>> 24;
}
function get32(offset: u32): u32 {
  return u32(scratch[offset] | (scratch[offset + 1] << 8) | (scratch[offset + 2] << 16) | (scratch[offset + 3] << 24));
}

/** A fresh copy of the image in `scratch`. */
function copyImage(): void { memoryCopy(addressOf(scratch), imageAt(), imageLength); }

/** Pushes the (corrupted) copy in `scratch`: one VM. */
function pushScratch(length: u32): i32 {
  setRequest(addressOf(scratch), length, 1, PUSHED_MEMORY_KIB);
  return vmCreate(addressOf(request));
}

// ELF32 offsets (System V ABI): e_entry 24, e_phoff 28, e_phnum 44; a program header: p_vaddr 8, p_filesz 16.
const E_ENTRY: u32 = 24, E_PHOFF: u32 = 28, E_PHNUM: u32 = 44, PHDR_BYTES: u32 = 32;
const P_VADDR: u32 = 8, P_FILESZ: u32 = 16;

function phdr(i: u32): u32 { return get32(E_PHOFF) + i * PHDR_BYTES; }

/** Corrupted images: each refused with its reason, nothing else changed. */
function refusals(): void {
  copyImage();
  scratch[0] = 0;
  pushScratch(imageLength);                        // the first call maps the control VM's own pages
  remember();
  copyImage(); scratch[0] = 0x7e; refused("bad-magic", pushScratch(imageLength));
  copyImage(); scratch[4] = 2; refused("elf64-class", pushScratch(imageLength));
  copyImage(); refused("truncated-header", pushScratch(40));
  copyImage(); put32(E_PHOFF, 0xfffffff0); refused("program-headers-outside", pushScratch(imageLength));
  copyImage(); put32(phdr(0) + P_VADDR, get32(phdr(0) + P_VADDR) + 1);
  refused("segment-misaligned", pushScratch(imageLength));
  copyImage(); put32(phdr(0) + P_VADDR, 0x1000); refused("segment-below-guest", pushScratch(imageLength));
  copyImage(); put32(phdr(2) + P_FILESZ, 0x7fffffff); refused("segment-outside-file", pushScratch(imageLength));
  copyImage(); put32(phdr(1) + P_VADDR, get32(phdr(0) + P_VADDR));
  refused("segments-overlap", pushScratch(imageLength));
  copyImage(); put32(E_ENTRY, 0x10); refused("entry-outside", pushScratch(imageLength));
  // A fifth PT_LOAD (a copy of the fourth, after the table) where a guest image may have four.
  copyImage();
  memoryCopy(addressOf(scratch) + phdr(4), addressOf(scratch) + phdr(3), PHDR_BYTES);
  scratch[E_PHNUM] = 5;
  refused("five-segments", pushScratch(imageLength));
  // Bad arguments, a good image.
  setRequest(imageAt(), imageLength, 1, PUSHED_MEMORY_KIB);
  refused("request-outside", vmCreate(0x00100000));
  refused("request-across-end", vmCreate(memoryEnd - 8));
  request.imageAddress = memoryEnd - 4096; refused("image-across-end", vmCreate(addressOf(request)));
  setRequest(imageAt(), imageLength, 0, PUSHED_MEMORY_KIB); refused("count-zero", vmCreate(addressOf(request)));
  setRequest(imageAt(), imageLength, 1, 8); refused("memory-too-small", vmCreate(addressOf(request)));
  setRequest(imageAt(), imageLength, 1, 258); refused("memory-not-pages", vmCreate(addressOf(request)));
  setRequest(imageAt(), imageLength, 1, PUSHED_MEMORY_KIB); request.ipAddress = 0;
  refused("address-zero", vmCreate(addressOf(request)));
  setRequest(imageAt(), imageLength, 1, PUSHED_MEMORY_KIB);
  request.ipAddress = overlay(BootInfo, memoryEnd - 4096).ipAddress;      // the control VM's own
  refused("address-in-use", vmCreate(addressOf(request)));
  setRequest(imageAt(), imageLength, 4000, 65536); request.guaranteedKiB = 65536;
  refused("reservations-too-large", vmCreate(addressOf(request)));
}

function writeIp(ip: u32): void {
  write(ip & 0xff); write("."); write((ip >>> 8) & 0xff); write(".");
  write((ip >>> 16) & 0xff); write("."); write(ip >>> 24);
}

function record(k: u32): VmStatus { return overlay(VmStatus, addressOf(records) + k * sizeOf(VmStatus)); }

/** Records `records` holds (a page of vmList). */
const PAGE_RECORDS: u32 = 128;

/** Lists VMs [first, first + count) into `records` (count <= PAGE_RECORDS); how many came. */
function list(first: u32, count: u32): u32 {
  const got = vmList(first, addressOf(records), (count < PAGE_RECORDS ? count : PAGE_RECORDS) * sizeOf(VmStatus));
  return got < 0 ? 0 : u32(got);
}

/** True once every VM of [first, first + count) has written to the console and idles. */
function ready(first: u32, count: u32): bool {
  for (let from: u32 = 0; from < count; from += PAGE_RECORDS) {
    const page = count - from < PAGE_RECORDS ? count - from : PAGE_RECORDS;
    if (list(first + from, page) !== page) return false;
    for (let k: u32 = 0; k < page; k++) {
      const r = record(k);
      if (r.state !== VM_STATE_IDLE || r.consoleBytes === 0) return false;
    }
  }
  return true;
}

/** VMs of [first, first + count) that ended stopped by us. */
function countStopped(first: u32, count: u32): u32 {
  let stopped: u32 = 0;
  for (let from: u32 = 0; from < count; from += PAGE_RECORDS) {
    const got = list(first + from, count - from);
    for (let k: u32 = 0; k < got; k++) {
      if (record(k).state === VM_STATE_ENDED && record(k).endReason === VM_END_STOPPED) stopped++;
    }
  }
  return stopped;
}

function printRecords(number: u32, first: u32, count: u32): void {
  for (let from: u32 = 0; from < count; from += PAGE_RECORDS) {
    const got = list(first + from, count - from);
    for (let k: u32 = 0; k < got; k++) {
      const r = record(k);
      write("control round "); write(number); write(" vm "); write(r.id); write(" state "); write(r.state);
      write(" flags "); write(r.flags); write(" ip "); writeIp(r.ipAddress); write(" memory "); write(r.memoryKiB);
      write(" resident "); write(r.residentKiB); write(" reserved "); write(r.reservedKiB); write(" console ");
      write(r.consoleBytes); write(" argument "); print(r.argument);
    }
  }
}

/**
 * The frames the control VM holds itself (pages and tables): with a swap disk it is written out and read
 * back too, holding fewer or more of its pages after: the free frames plus these are what the others hold.
 */
function ownFrames(): u32 {
  if (vmList(status().controlVm, addressOf(records), sizeOf(VmStatus)) !== 1) return 0;
  return record(0).residentKiB / 4;
}

function round(number: u32, count: u32): void {
  const before = status().framesFree, ownBefore = ownFrames();
  setRequest(imageAt(), imageLength, count, PUSHED_MEMORY_KIB);
  request.argument = 7;
  const first = vmCreate(addressOf(request));
  write("control round "); write(number); write(" created "); print(first);
  if (first < 0) return;
  let waited = 0;
  while (!ready(u32(first), count) && waited < WAIT_ROUNDS) { sleep(20000); waited++; }
  write("control round "); write(number); print(ready(u32(first), count) ? " ready yes" : " ready no");
  const during = status().framesFree, ownDuring = ownFrames();
  printRecords(number, u32(first), count);
  const got = vmConsole(u32(first), addressOf(text), u32(text.length));
  write("control round "); write(number); write(" console "); write(first); write(" ");
  let line: u32 = 0;
  while (i32(line) < got && text[line] !== 10) line++;
  consoleWriteBytes(addressOf(text), line);                  // as it wrote them (the kernel escapes)
  print("");
  let failed: u32 = 0;
  let busy: u32 = 0;
  for (let k: u32 = 0; k < count; k++) {
    // EAGAIN: its pages are in flight to or from the swap disk; again a little later.
    let result = vmStop(u32(first) + k);
    for (let tries = 0; result === EAGAIN && tries < WAIT_ROUNDS; tries++) {
      busy++;
      sleep(10000);
      result = vmStop(u32(first) + k);
    }
    if (result !== 0) failed++;
  }
  const stopped = countStopped(u32(first), count);
  write("control round "); write(number); write(" stopped "); write(count - failed); write(" failed "); write(failed);
  write(" ended-stopped "); write(stopped); write(" busy "); print(busy);
  write("control round "); write(number); write(" frames before "); write(before); write(" during "); write(during);
  write(" after "); write(status().framesFree);
  write(" own "); write(ownBefore); write(" "); write(ownDuring); write(" "); print(ownFrames());
}

function errors(): void {
  const m = status();
  write("control errors stop-ended "); write(vmStop(m.vmSlots - 1));
  write(" stop-unknown "); write(vmStop(m.vmSlots + 5));
  write(" stop-self "); write(vmStop(m.controlVm));
  write(" list-small "); write(vmList(0, addressOf(records), sizeOf(VmStatus) - 1));
  write(" list-outside "); write(vmList(0, 0x00100000, sizeOf(VmStatus)));
  write(" list-past-end "); write(vmList(m.vmSlots, addressOf(records), sizeOf(VmStatus)));
  write(" console-unknown "); write(vmConsole(m.vmSlots + 5, addressOf(text), 16));
  write(" console-outside "); print(vmConsole(0, 0x00100000, 16));
}

export function guestMain(magic: u32, bootInfo: u32): void {
  const info = overlay(BootInfo, bootInfo);
  memoryEnd = info.memoryBase + info.memorySize;
  const count = info.argument & 0xffff;
  imageLength = u32(pushedImage[0] | (pushedImage[1] << 8) | (pushedImage[2] << 16) | (pushedImage[3] << 24));
  const m = status();
  write("control start frames-free "); write(m.framesFree); write(" slots "); write(m.vmSlots);
  write(" live "); write(m.vmsLive); write(" control "); write(m.controlVm); write(" kept "); print(m.consoleKeptBytes);
  if (imageLength === 0 || imageLength > u32(pushedImage.length) - 4) { print("control no image embedded"); exit(1); }
  // The manifest's other VMs end first (the worker's EPERM checks), so that the counts below are ours.
  let waited = 0;
  while (status().vmsLive > 1 && waited < WAIT_ROUNDS) { sleep(20000); waited++; }
  write("control others-ended "); print(status().vmsLive === 1 ? "yes" : "no");
  refusals();
  if ((info.argument & NO_GUARANTEE) !== 0) guaranteedKiB = 0;
  round(1, count);
  round(2, count);
  errors();
  print("control done");
  exit(0);
}
