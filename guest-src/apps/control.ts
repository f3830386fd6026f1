// control: the control VM's HTTP/1.1 JSON API (issue 19 item 2; docs/control.md is its reference), on
// the libos threads and sockets, over the management hypercalls (docs/virtual-architecture.md
// "Management hypercalls"). Give it the manifest group with `"control": true` and about 8 MiB.
//   GET /vms[?from=ID]      the machine's memory and VMs, and a page of PAGE_VMS VMs from ID, with "next"
//   GET /vms/ID             one VM: state, addresses, memory, CPU, packets (what the console's vms shows)
//   GET /vms/ID/console     its last console bytes, as written
//   DELETE /vms/ID          stops it (its memory is free at once)
//   POST /images            an ELF guest image in the body: kept in one of IMAGE_SLOTS slots
//   GET /images, DELETE /images/K
//   POST /vms               {"image":K,"count":N,"memoryKiB":M,...}: N VMs of image K, started now
// Every request is authenticated (control/http.ts): X-Denali-Timestamp and X-Denali-Signature, an
// HMAC-SHA256 under the key the kernel gave at boot (BootInfo.controlKey: 64 hex digits, or raw bytes);
// missing or wrong, or a timestamp not above the last accepted one (a replay): 401, and nothing changes.
// A malformed request: 400; a body larger than its route takes: 413; both close the connection.
// Prints `vm N control API on port P` once it listens (P: the argument's low 16 bits, 80 when 0). Argument
// bit 16 (ARGUMENT_BENCH, npm run bench:vm): as each POST /vms is handled, `bench-tsc push-request T`, T the
// TSC (under -icount an instruction count) when its head was in, before authentication and parsing.
// WORKERS connections are served at once, each by a thread with its own buffers.
import { i32, u32, bool, write, print, panic, addressOf, sizeOf, overlay, structArray, rdtsc } from "dsl";
import { bootInit, boot, argument, vmId } from "../runtime/boot.ts";
import { enableInterrupts } from "../runtime/events.ts";
import { vmCreate, vmStop, vmList, vmConsole, machineStatus } from "../runtime/hypercalls.ts";
import { stackInitFromBoot } from "../libos/stack.ts";
import { threadsInit, threadCreate, threadsRun } from "../libos/threads.ts";
import { socketListen, socketAccept, socketRead, socketClose } from "../libos/sockets.ts";
import {
  VmCreateRequest, VmStatus, MachineStatus, EINVAL, EAGAIN, ENOMEM, ENOEXEC, EBADSEGMENT, ETOOMANYSEGMENTS,
  EBADENTRY, EADDRINUSE, ESRCH, ENOSPC, VM_STATE_RUNNABLE, VM_STATE_RUNNING, VM_STATE_ENDED, VM_FLAG_SWAPPED,
  VM_FLAG_CONTROL, VM_END_EXIT, VM_END_BAD_HYPERCALLS, VM_END_OUT_OF_MEMORY, VM_END_VIRTUAL_8086,
  VM_END_STACK_OVERFLOW, VM_END_SWAP_CORRUPTION, VM_END_SWAP_READ_ERROR, VM_END_STOPPED,
} from "../../abi/hypercalls.ts";
import {
  Request, parseHead, headEnd, matchesAt, authKey, authStart, authBody, authPresent, authFinish, STATUS_OK,
  METHOD_GET, METHOD_POST, METHOD_DELETE, AUTH_OK, AUTH_BAD_SIGNATURE,
} from "./control/http.ts";
import {
  replyStart, replySend, replyError, put, putString, putDecimal, putIp, replyBodyOffset, replyBodyRoom,
  replySetBodyLength, replyArea,
} from "./control/reply.ts";
import { parseCreate, createFields, FIELD_IMAGE, FIELD_COUNT, FIELD_MEMORY, FIELD_GUARANTEED, FIELD_ARGUMENT,
  FIELD_IP, FIELD_NETMASK, FIELD_GATEWAY, FIELD_WEIGHT, FIELD_CAP, FIELD_TX_PACKETS, FIELD_TX_BYTES, FIELD_RX_PACKETS,
  FIELD_RX_BYTES, FIELD_MEMORY_CAP } from "./control/create.ts";

const DEFAULT_PORT = 80;
/** Argument bit 16: bench mode (the header's `bench-tsc push-request` lines). */
const ARGUMENT_BENCH: u32 = 0x10000;
let benchMode = false;
const WORKERS = 2;
const BACKLOG = 8;
const HEAD_LIMIT = 4096;
const IDLE_TIMEOUT_US: u32 = 10000000;
/** Pushed images kept at once, and the largest. */
const IMAGE_SLOTS = 4;
const IMAGE_SLOT_BYTES = 1048576;
/** The largest body of a request that is not an image (POST /vms's JSON). */
const SMALL_BODY_BYTES = 1024;
/** VMs per page of GET /vms, and per POST /vms. */
const PAGE_VMS: u32 = 100;
const CREATE_LIMIT: u32 = 1000;

const requests = structArray(Request, 2);           // WORKERS
const heads = new Uint8Array(2 * 4096);            // WORKERS x HEAD_LIMIT
const smallBodies = new Uint8Array(2 * 1024);      // WORKERS x SMALL_BODY_BYTES
const records = new Uint8Array(2 * 100 * 128);     // WORKERS x PAGE_VMS x sizeOf(VmStatus)
const images = new Uint8Array(4 * 1048576);        // IMAGE_SLOTS x IMAGE_SLOT_BYTES
const imageLengths = new Int32Array(4);
/** Per slot: 0 free, 1 holds an image, 2 receiving one (by a worker, not yet authenticated). */
const imageStates = new Uint8Array(4);
const SLOT_FREE = 0;
const SLOT_IMAGE = 1;
const SLOT_RECEIVING = 2;
const create = new VmCreateRequest();
const machine = new MachineStatus();
const keyBytes = new Uint8Array(64);
let listener: i32 = 0;
let ownIp: u32 = 0;                                // host byte order

function byteSwap(x: u32): u32 {
  return u32((x >>> 24) | ((x >>> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24));
}

// ---- the key -------------------------------------------------------------------------------------------------

function hexValue(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c >= 65 && c <= 70 ? c - 55 : -1;
}

/** The boot key: 64 hex digits (a line of the key file) are 32 bytes; anything else is used as it is. */
function takeKey(): i32 {
  const info = boot();
  let length = i32(info.controlKeyLength);
  while (length > 0 && (info.controlKey[length - 1] === 10 || info.controlKey[length - 1] === 13)) length--;
  let hex = length === 64;
  for (let i = 0; i < length && hex; i++) if (hexValue(info.controlKey[i]) < 0) hex = false;
  if (hex) {
    for (let i = 0; i < 32; i++) {
      keyBytes[i] = (hexValue(info.controlKey[2 * i]) << 4) | hexValue(info.controlKey[2 * i + 1]);
    }
    authKey(keyBytes, 0, 32);
    return 32;
  }
  for (let i = 0; i < length; i++) keyBytes[i] = info.controlKey[i];
  authKey(keyBytes, 0, length);
  return length;
}

// ---- VMs as JSON ---------------------------------------------------------------------------------------------

function record(worker: i32, k: u32): VmStatus {
  return overlay(VmStatus, addressOf(records) + (u32(worker) * PAGE_VMS + k) * sizeOf(VmStatus));
}

function stateName(s: VmStatus): string {
  if (s.state === VM_STATE_ENDED) return "ended";
  if (s.state === VM_STATE_RUNNING) return "running";
  return s.state === VM_STATE_RUNNABLE ? "runnable" : "idle";
}

function endName(reason: u32): string {
  switch (reason) {
    case VM_END_EXIT: return "exit";
    case VM_END_BAD_HYPERCALLS: return "too many bad hypercalls";
    case VM_END_OUT_OF_MEMORY: return "out of memory";
    case VM_END_VIRTUAL_8086: return "entered virtual-8086 mode";
    case VM_END_STACK_OVERFLOW: return "stack overflow";
    case VM_END_SWAP_CORRUPTION: return "swap corruption";
    case VM_END_SWAP_READ_ERROR: return "swap read error";
    case VM_END_STOPPED: return "stopped";
  }
  return "exception";
}

/** Thousands of a 64-bit count (saturated at 2^32 - 1): the console's kcycles. */
function thousands(high: u32, low: u32): u32 {
  if (high >= 1000) return 0xffffffff;
  // Long division by 16-bit digits: high < 1000, so the quotient fits in 32 bits.
  const middle = u32((high << 16) | (low >>> 16));
  const rest = u32(((middle % 1000) << 16) | (low & 0xffff));
  return u32((middle / 1000) << 16) + rest / 1000;
}

function field(name: string,
  value: u32): void { putString(",\""); putString(name); putString("\":"); putDecimal(value); }

/** `,"name":value`, or `,"name":null` for 0 (none: a cap or a limit not set). */
function optional(name: string, value: u32): void {
  putString(",\""); putString(name); putString("\":");
  if (value === 0) putString("null"); else putDecimal(value);
}

function putVm(s: VmStatus): void {
  putString("{\"id\":"); putDecimal(s.id);
  putString(",\"state\":\""); putString(stateName(s)); putString("\",\"ip\":"); putIp(s.ipAddress);
  field("memoryKiB", s.memoryKiB); field("residentKiB", s.residentKiB); field("reservedKiB", s.reservedKiB);
  field("cpuKcycles", thousands(s.cpuHigh, s.cpuLow)); field("switches", s.switches);
  field("cpuWeight", s.cpuWeight);
  optional("cpuCapPercent", s.cpuCapPercent);
  optional("txPacketsPerSecond", s.txPacketsPerSecond); optional("txBytesPerSecond", s.txBytesPerSecond);
  optional("rxPacketsPerSecond", s.rxPacketsPerSecond); optional("rxBytesPerSecond", s.rxBytesPerSecond);
  field("txLimited", s.txLimited); field("rxLimited", s.rxLimited); optional("memoryCapKiB", s.memoryCapKiB);
  field("swapKiB", s.swapKiB);
  field("rxPackets", s.rxPackets); field("rxBytes", s.rxBytes); field("txPackets", s.txPackets); field("txBytes",
    s.txBytes);
  field("dropped", s.dropped); field("spoofed", s.spoofed); field("refused", s.refused); field("evicted", s.evicted);
  field("consoleBytes", s.consoleBytes); field("argument", s.argument);
  putString((s.flags & VM_FLAG_SWAPPED) !== 0 ? ",\"swapped\":true" : ",\"swapped\":false");
  putString((s.flags & VM_FLAG_CONTROL) !== 0 ? ",\"control\":true" : ",\"control\":false");
  if (s.state !== VM_STATE_ENDED) { putString(",\"end\":null}"); return; }
  putString(",\"end\":{\"reason\":\""); putString(endName(s.endReason)); putString("\"");
  if (s.endReason === VM_END_EXIT) field("status", s.exitStatus);
  if (s.endReason < 32) field("vector", s.endReason);
  putString("}}");
}

function putMachine(): void {
  machineStatus(addressOf(machine));
  putString("{\"framesTotal\":"); putDecimal(machine.framesTotal);
  field("framesFree", machine.framesFree); field("framesUnreserved", machine.framesUnreserved);
  field("vmSlots", machine.vmSlots); field("vmsLive", machine.vmsLive); field("controlVm", machine.controlVm);
  putString("}");
}

// ---- routes ----------------------------------------------------------------------------------------------------

/** GET /vms?from=ID: the machine, a page of VMs from ID, and where the next page starts (null: none). */
function listVms(socket: i32, worker: i32, from: u32, keepAlive: bool): bool {
  const got = vmList(from, addressOf(records) + u32(worker) * PAGE_VMS * sizeOf(VmStatus), PAGE_VMS * sizeOf(VmStatus));
  const count = got < 0 ? 0 : u32(got);
  replyStart(worker);
  putString("{\"machine\":"); putMachine(); putString(",\"vms\":[");
  for (let k: u32 = 0; k < count; k++) { if (k !== 0) put(44); putVm(record(worker, k)); }
  putString("],\"next\":");
  if (count === PAGE_VMS && from + count < machine.vmSlots) putDecimal(from + count); else putString("null");
  putString("}\n");
  return replySend(socket, 200, true, keepAlive);
}

function oneVm(socket: i32, worker: i32, id: u32, keepAlive: bool): bool {
  const got = vmList(id, addressOf(records) + u32(worker) * PAGE_VMS * sizeOf(VmStatus), sizeOf(VmStatus));
  if (got !== 1) return replyError(socket, worker, 404, "ESRCH", "no such VM", keepAlive);
  replyStart(worker);
  putVm(record(worker, 0));
  put(10);
  return replySend(socket, 200, true, keepAlive);
}

function consoleOf(socket: i32, worker: i32, id: u32, keepAlive: bool): bool {
  replyStart(worker);
  const got = vmConsole(id, addressOf(replyArea()) + u32(replyBodyOffset()), u32(replyBodyRoom()));
  if (got === ESRCH) return replyError(socket, worker, 404, "ESRCH", "no such VM", keepAlive);
  replySetBodyLength(got < 0 ? 0 : got);
  return replySend(socket, 200, false, keepAlive);
}

function stopVm(socket: i32, worker: i32, id: u32, keepAlive: bool): bool {
  const result = vmStop(id);
  if (result === ESRCH) return replyError(socket, worker, 404, "ESRCH", "no such VM, or it has ended", keepAlive);
  if (result === EAGAIN) {
    return replyError(socket, worker, 409, "EAGAIN", "its pages are in flight to or from the swap disk: try again",
      keepAlive);
  }
  if (result < 0) return replyError(socket, worker, 400, "EINVAL", "the control VM is not stopped this way", keepAlive);
  replyStart(worker);
  putString("{\"id\":"); putDecimal(id); putString(",\"stopped\":true}\n");
  return replySend(socket, 200, true, keepAlive);
}

function listImages(socket: i32, worker: i32, keepAlive: bool): bool {
  replyStart(worker);
  putString("{\"images\":[");
  let first = true;
  for (let k = 0; k < IMAGE_SLOTS; k++) {
    if (imageStates[k] !== SLOT_IMAGE) continue;
    if (!first) put(44);
    first = false;
    putString("{\"image\":"); putDecimal(u32(k)); field("bytes", u32(imageLengths[k])); put(125);
  }
  putString("]}\n");
  return replySend(socket, 200, true, keepAlive);
}

function dropImage(socket: i32, worker: i32, k: u32, keepAlive: bool): bool {
  if (k >= u32(IMAGE_SLOTS) || imageStates[k] !== SLOT_IMAGE) return replyError(socket, worker, 404, "ENOENT",
    "no such image", keepAlive);
  imageStates[k] = SLOT_FREE;
  replyStart(worker);
  putString("{\"image\":"); putDecimal(k); putString(",\"deleted\":true}\n");
  return replySend(socket, 200, true, keepAlive);
}

/** The reason of a vmCreate error, for the client. */
function createError(socket: i32, worker: i32, result: i32, keepAlive: bool): bool {
  switch (result) {
    case ENOEXEC: return replyError(socket, worker, 422, "ENOEXEC", "refused image: not an ELF32 i386 executable",
      keepAlive);
    case EBADSEGMENT:
      return replyError(socket, worker, 422, "EBADSEGMENT",
        "refused image: a PT_LOAD segment is misaligned, overlaps another, or lies outside the guest range or the file",
        keepAlive);
    case ETOOMANYSEGMENTS:
      return replyError(socket, worker, 422, "ETOOMANYSEGMENTS", "refused image: more than 4 PT_LOAD segments",
        keepAlive);
    case EBADENTRY:
      return replyError(socket, worker, 422, "EBADENTRY",
        "refused image: the entry point is in no executable segment", keepAlive);
    case EINVAL:
      return replyError(socket, worker, 400, "EINVAL",
        "bad count, memoryKiB (a multiple of 4, room for the image), guaranteedKiB, memoryCapKiB or ip", keepAlive);
    case EADDRINUSE: return replyError(socket, worker, 409, "EADDRINUSE", "the addresses are in use", keepAlive);
    case ENOMEM: return replyError(socket, worker, 507, "ENOMEM", "not enough memory for the VMs' reservations",
      keepAlive);
    case ENOSPC: return replyError(socket, worker, 507, "ENOSPC", "no room for more VMs", keepAlive);
  }
  return replyError(socket, worker, 500, "EFAULT", "the control VM passed a bad buffer", keepAlive);
}

/**
 * The first of `count` consecutive addresses (host order) after the control VM's own that no VM listed
 * in use has, from `start` on.
 */
function freeAddresses(worker: i32, start: u32, count: u32): u32 {
  let candidate = start;
  for (let round = 0; round < 64; round++) {
    let conflict: u32 = 0;
    let from: u32 = 0;
    while (true) {
      const got = vmList(from, addressOf(records) + u32(worker) * PAGE_VMS * sizeOf(VmStatus),
        PAGE_VMS * sizeOf(VmStatus));
      if (got <= 0) break;
      for (let k: u32 = 0; k < u32(got); k++) {
        const s = record(worker, k), ip = byteSwap(s.ipAddress);
        if (s.state !== VM_STATE_ENDED && ip - candidate < count && ip >= conflict) conflict = ip + 1;
      }
      from += u32(got);
    }
    if (conflict === 0) return candidate;
    candidate = conflict;
  }
  return candidate;
}

/** POST /vms's refusal of a body it cannot parse. */
const CREATE_FIELDS =
  "a JSON object of image, count, memoryKiB, ... (the fields of docs/control.md), each in its range";

/** POST /vms: creates the VMs the JSON body asks for. */
function createVms(socket: i32, worker: i32, length: i32, keepAlive: bool): bool {
  if (!parseCreate(smallBodies, worker * SMALL_BODY_BYTES, length)) {
    return replyError(socket, worker, 400, "EINVAL", CREATE_FIELDS, keepAlive);
  }
  const k = createFields[FIELD_IMAGE];
  if (k >= u32(IMAGE_SLOTS) || imageStates[k] !== SLOT_IMAGE) return replyError(socket, worker, 404, "ENOENT",
    "no such image", keepAlive);
  const count = createFields[FIELD_COUNT];
  if (count === 0 || count > CREATE_LIMIT) return replyError(socket, worker, 400, "EINVAL", "count must be 1..1000",
    keepAlive);
  create.imageAddress = addressOf(images) + k * u32(IMAGE_SLOT_BYTES);
  create.imageLength = u32(imageLengths[k]);
  create.count = count;
  create.memoryKiB = createFields[FIELD_MEMORY];
  create.guaranteedKiB = createFields[FIELD_GUARANTEED];
  create.argument = createFields[FIELD_ARGUMENT];
  create.netmask = createFields[FIELD_NETMASK];
  create.gateway = createFields[FIELD_GATEWAY];
  create.cpuWeight = createFields[FIELD_WEIGHT];
  create.cpuCapPercent = createFields[FIELD_CAP];
  create.txPacketsPerSecond = createFields[FIELD_TX_PACKETS];
  create.txBytesPerSecond = createFields[FIELD_TX_BYTES];
  create.rxPacketsPerSecond = createFields[FIELD_RX_PACKETS];
  create.rxBytesPerSecond = createFields[FIELD_RX_BYTES];
  create.memoryCapKiB = createFields[FIELD_MEMORY_CAP];
  const given = createFields[FIELD_IP] !== 0;
  let first = given ? byteSwap(createFields[FIELD_IP]) : freeAddresses(worker, ownIp + 1, count);
  let result: i32 = EADDRINUSE;
  // Without an address given: past the VMs listed, and past a range the kernel says is taken.
  for (let attempt = 0; attempt < 16 && result === EADDRINUSE; attempt++) {
    create.ipAddress = byteSwap(first);
    result = vmCreate(addressOf(create));
    if (given) break;
    if (result === EADDRINUSE) first = freeAddresses(worker, first + count, count);
  }
  if (result < 0) return createError(socket, worker, result, keepAlive);
  replyStart(worker);
  putString("{\"image\":"); putDecimal(k); field("first", u32(result)); field("count", count); putString(",\"vms\":[");
  for (let i: u32 = 0; i < count; i++) {
    if (i !== 0) put(44);
    putString("{\"id\":"); putDecimal(u32(result) + i); putString(",\"ip\":"); putIp(byteSwap(first + i)); put(125);
  }
  putString("]}\n");
  return replySend(socket, 201, true, keepAlive);
}

// ---- requests ------------------------------------------------------------------------------------------------

const ROUTE_NONE = 0;
const ROUTE_VMS = 1;
const ROUTE_VM = 2;
const ROUTE_CONSOLE = 3;
const ROUTE_IMAGES = 4;
const ROUTE_IMAGE = 5;
let routeId: u32 = 0;

/** Decimal digits at buffer[at..end) as a u32 (at most 9 digits); -1 when there are none or it is not. */
function number(buffer: Uint8Array, at: i32, end: i32): i32 {
  if (at >= end || end - at > 9) return -1;
  let value = 0;
  for (let i = at; i < end; i++) {
    if (buffer[i] < 48 || buffer[i] > 57) return -1;
    value = value * 10 + buffer[i] - 48;
  }
  return value;
}

/** The route of the target (routeId: its VM or image number, or GET /vms's `from`). */
function route(r: Request): i32 {
  const at = r.targetStart, end = r.targetEnd;
  routeId = 0;
  if (matchesAt(heads, at, end, "/images")) {
    if (end === at + 7) return ROUTE_IMAGES;
    if (heads[at + 7] !== 47) return ROUTE_NONE;
    const k = number(heads, at + 8, end);
    if (k < 0) return ROUTE_NONE;
    routeId = u32(k);
    return ROUTE_IMAGE;
  }
  if (!matchesAt(heads, at, end, "/vms")) return ROUTE_NONE;
  if (end === at + 4) return ROUTE_VMS;
  if (matchesAt(heads, at + 4, end, "?from=")) {
    const from = number(heads, at + 10, end);
    if (from < 0) return ROUTE_NONE;
    routeId = u32(from);
    return ROUTE_VMS;
  }
  if (heads[at + 4] !== 47) return ROUTE_NONE;
  let idEnd = at + 5;
  while (idEnd < end && heads[idEnd] !== 47) idEnd++;
  const id = number(heads, at + 5, idEnd);
  if (id < 0) return ROUTE_NONE;
  routeId = u32(id);
  if (idEnd === end) return ROUTE_VM;
  return end - idEnd === 8 && matchesAt(heads, idEnd, end, "/console") ? ROUTE_CONSOLE : ROUTE_NONE;
}

function methodNotAllowed(socket: i32, worker: i32, keepAlive: bool): bool {
  return replyError(socket, worker, 405, "EMETHOD", "not a method of this resource", keepAlive);
}

/** Acts on an authenticated request; false when the connection is gone. */
function dispatch(socket: i32, worker: i32, r: Request, where: i32, bodyLength: i32, keepAlive: bool): bool {
  const id = routeId;
  if (where === ROUTE_VMS) {
    if (r.method === METHOD_GET) return listVms(socket, worker, id, keepAlive);
    if (r.method === METHOD_POST) return createVms(socket, worker, bodyLength, keepAlive);
  } else if (where === ROUTE_VM) {
    if (r.method === METHOD_GET) return oneVm(socket, worker, id, keepAlive);
    if (r.method === METHOD_DELETE) return stopVm(socket, worker, id, keepAlive);
  } else if (where === ROUTE_CONSOLE) {
    if (r.method === METHOD_GET) return consoleOf(socket, worker, id, keepAlive);
  } else if (where === ROUTE_IMAGES) {
    if (r.method === METHOD_GET) return listImages(socket, worker, keepAlive);
  } else if (where === ROUTE_IMAGE) {
    if (r.method === METHOD_DELETE) return dropImage(socket, worker, id, keepAlive);
  } else {
    return replyError(socket, worker, 404, "ENOENT", "no such resource", keepAlive);
  }
  return methodNotAllowed(socket, worker, keepAlive);
}

/** A free image slot, marked receiving; -1 when none. */
function takeSlot(): i32 {
  for (let k = 0; k < IMAGE_SLOTS; k++) if (imageStates[k] === SLOT_FREE) { imageStates[k] = SLOT_RECEIVING; return k; }
  return -1;
}

/**
 * Reads the request's body (its first `ready` bytes already at heads[from]) into `to` at `offset`,
 * adding it to the MAC; false when the connection failed first.
 */
function readBody(socket: i32, r: Request, from: i32, ready: i32, to: Uint8Array, offset: i32, length: i32): bool {
  const first = ready < length ? ready : length;
  for (let i = 0; i < first; i++) to[offset + i] = heads[from + i];
  let got = first;
  while (got < length) {
    const n = socketRead(socket, to, offset + got, length - got, IDLE_TIMEOUT_US);
    if (n <= 0) return false;
    got += n;
  }
  authBody(r, to, offset, length);
  return true;
}

/**
 * One request whose head (`end` bytes) is at the worker's buffer, `length` bytes there in all. Returns
 * the bytes of the buffer it consumed (head and body), or -1 when the connection is to be closed.
 */
function handle(socket: i32, worker: i32, end: i32, length: i32): i32 {
  const arrived = rdtsc();
  const base = worker * HEAD_LIMIT;
  const r = requests[worker];
  if (parseHead(r, heads, base, end) !== STATUS_OK || r.transferEncoding) {
    replyError(socket, worker, 400, "EBADREQUEST", "not an HTTP/1.x request with Content-Length framing", false);
    return -1;
  }
  const keepAlive = !r.connectionClose && (r.minorVersion >= 1 || r.connectionKeepAlive);
  const bodyLength = r.contentLength < 0 ? 0 : r.contentLength;
  const where = route(r);
  const isImage = where === ROUTE_IMAGES && r.method === METHOD_POST;
  if (benchMode && where === ROUTE_VMS && r.method === METHOD_POST) {
    write("bench-tsc push-request ");
    print(arrived);
  }
  if (r.method === METHOD_POST && r.contentLength < 0) {
    replyError(socket, worker, 411, "ELENGTH", "a body needs Content-Length", false);
    return -1;
  }
  if (bodyLength > (isImage ? IMAGE_SLOT_BYTES : SMALL_BODY_BYTES)) {
    replyError(socket, worker, 413, "ETOOLARGE",
      isImage ? "an image is at most 1 MiB" : "a body is at most 1024 bytes", false);
    return -1;
  }
  if (!authPresent(r)) {
    replyError(socket, worker, 401, "EAUTH", "X-Denali-Timestamp and X-Denali-Signature are required", false);
    return -1;
  }
  let slot = -1;
  if (isImage) {
    slot = takeSlot();
    if (slot < 0) {
      replyError(socket, worker, 507, "ENOSPC", "every image slot is taken: DELETE /images/K first", false);
      return -1;
    }
  }
  authStart(r, heads);
  const ready = length - end;
  const ok = isImage ? readBody(socket, r, base + end, ready, images, slot * IMAGE_SLOT_BYTES, bodyLength)
    : readBody(socket, r, base + end, ready, smallBodies, worker * SMALL_BODY_BYTES, bodyLength);
  if (!ok) { if (slot >= 0) imageStates[slot] = SLOT_FREE; return -1; }
  const consumed = end + (ready < bodyLength ? ready : bodyLength);
  const auth = authFinish(r);
  if (auth !== AUTH_OK) {
    if (slot >= 0) imageStates[slot] = SLOT_FREE;
    const why = auth === AUTH_BAD_SIGNATURE ? "bad signature"
      : "replayed: the timestamp is not above the last accepted";
    return replyError(socket, worker, 401, "EAUTH", why, keepAlive) && keepAlive ? consumed : -1;
  }
  if (isImage) {
    imageLengths[slot] = bodyLength;
    imageStates[slot] = SLOT_IMAGE;
    replyStart(worker);
    putString("{\"image\":"); putDecimal(u32(slot)); field("bytes", u32(bodyLength)); putString("}\n");
    return replySend(socket, 201, true, keepAlive) && keepAlive ? consumed : -1;
  }
  return dispatch(socket, worker, r, where, bodyLength, keepAlive) && keepAlive ? consumed : -1;
}

/** Serves one connection: requests until close, an error or the idle timeout. */
function serve(socket: i32, worker: i32): void {
  const base = worker * HEAD_LIMIT;
  let length = 0;
  while (true) {
    let end = headEnd(heads, base, length);
    while (end < 0) {
      if (length === HEAD_LIMIT) { replyError(socket, worker, 400, "EBADREQUEST",
        "the request head is over 4096 bytes", false); return; }
      const n = socketRead(socket, heads, base + length, HEAD_LIMIT - length, IDLE_TIMEOUT_US);
      if (n <= 0) return;
      length += n;
      end = headEnd(heads, base, length);
    }
    const consumed = handle(socket, worker, end, length);
    if (consumed < 0) return;
    for (let i = consumed; i < length; i++) heads[base + i - consumed] = heads[base + i];   // pipelining
    length -= consumed;
  }
}

function workerThread(index: u32): void {
  while (true) {
    const socket = socketAccept(listener, 0);
    serve(socket, i32(index));
    socketClose(socket);
  }
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  threadsInit();
  // The record buffers are sized for PAGE_VMS records of 128 bytes per worker: a larger VmStatus must grow them.
  if (u32(records.length) < u32(WORKERS) * PAGE_VMS * sizeOf(VmStatus)) panic("records too small for VmStatus");
  ownIp = byteSwap(boot().ipAddress);
  const keyLength = takeKey();
  const port = (argument() & 0xffff) === 0 ? DEFAULT_PORT : i32(argument() & 0xffff);
  benchMode = (argument() & ARGUMENT_BENCH) !== 0;
  listener = socketListen(port, BACKLOG);
  if (listener < 0) { print("control: cannot listen"); return; }
  for (let w: u32 = 0; w < u32(WORKERS); w++) if (threadCreate(workerThread,
    w) < 0) { print("control: no thread"); return; }
  write("vm "); write(vmId()); write(" control API on port "); write(port);
  print(keyLength === 0 ? " (no key: every request is refused)" : "");
  threadsRun();
}
