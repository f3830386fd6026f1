// The loopback switch between VMs behind netSend/netReceive (hypercalls 5 and 6) until the networking
// issue puts a real virtual NIC behind them. A frame goes to the VM whose MAC is its destination
// (02:00:00 + 24-bit vmId, vm.ts); it is copied once from the sender into a kernel buffer (kalloc),
// queued on the receiver (at most NET_QUEUE_LIMIT frames) with the NET bit posted, and copied once
// into the receiver's memory by netReceive. Broadcast and multicast frames, and frames for no VM, are
// dropped for now (the networking issue does ARP properly).
// Reference: IEEE 802.3 frame layout (destination MAC at offset 0, 14-byte header, 1514 bytes without
// FCS); the group bit is bit 0 of the first destination byte (IEEE 802-2014 §8.2).
import { i32, u32, load8, load32, store32, memoryCopy } from "dsl";
import { Vm, vmAt, vmCount, vmRangeValid, vmPrepareRange, VM_ENDED, VIRQ_NET, NET_BUFFER_HEADER, MAC_PREFIX_BYTE0 } from "./vm.ts";
import { virqPost } from "./vinterrupt.ts";
import { kalloc, kfree, KALLOC_NONE } from "./kalloc.ts";

export const ETHERNET_HEADER_BYTES: u32 = 14;
export const ETHERNET_FRAME_LIMIT: u32 = 1514;
/** Frames queued per receiving VM; beyond that netSend returns EAGAIN. */
export const NET_QUEUE_LIMIT: u32 = 16;
const MAC_GROUP_BIT: u32 = 1;

export const NET_OK = 0;
export const NET_ERROR_INVALID = -1;
export const NET_ERROR_FAULT = -2;
export const NET_ERROR_AGAIN = -3;
export const NET_ERROR_MESSAGE_SIZE = -4;

let framesDelivered: u32 = 0;
let framesDropped: u32 = 0;
export function loopbackDelivered(): u32 { return framesDelivered; }
export function loopbackDropped(): u32 { return framesDropped; }

/** netSend from VM `from`: the frame at [address, address + length). */
export function loopbackSend(from: u32, address: u32, length: u32): i32 {
  const sender = vmAt(u32(from));
  if (length < ETHERNET_HEADER_BYTES || length > ETHERNET_FRAME_LIMIT) return NET_ERROR_MESSAGE_SIZE;
  if (!vmRangeValid(sender, address, length) || !vmPrepareRange(sender, address, length, false)) return NET_ERROR_FAULT;
  // Copy once, then decide from the kernel's copy (the guest cannot change it under us).
  const buffer = kalloc(NET_BUFFER_HEADER + length);
  if (buffer === KALLOC_NONE) return NET_ERROR_AGAIN;
  const frame = buffer + NET_BUFFER_HEADER;
  memoryCopy(frame, address, length);
  store32(buffer, 0);
  store32(buffer + 4, length);
  const target = destination(frame);
  if (target < 0) { kfree(buffer, NET_BUFFER_HEADER + length); framesDropped++; return NET_OK; }
  const receiver = vmAt(u32(target));
  if (receiver.netCount >= NET_QUEUE_LIMIT) { kfree(buffer, NET_BUFFER_HEADER + length); return NET_ERROR_AGAIN; }
  if (receiver.netTail === 0) receiver.netHead = buffer; else store32(receiver.netTail, buffer);
  receiver.netTail = buffer;
  receiver.netCount++;
  framesDelivered++;
  virqPost(u32(target), VIRQ_NET);
  return NET_OK;
}

/** The VM a frame is for, or -1 (group address, not one of ours, or a VM that has ended). */
function destination(frame: u32): i32 {
  const b0: u32 = load8(frame);
  if ((b0 & MAC_GROUP_BIT) !== 0) return -1;
  if (b0 !== MAC_PREFIX_BYTE0 || load8(frame + 1) !== 0 || load8(frame + 2) !== 0) return -1;
  const id = (u32(load8(frame + 3)) << 16) | (u32(load8(frame + 4)) << 8) | u32(load8(frame + 5));
  if (id >= vmCount() || vmAt(u32(id)).state === VM_ENDED) return -1;
  return i32(id);
}

/** netReceive for VM `index`: the oldest frame into [address, address + capacity); its length, or 0. */
export function loopbackReceive(index: u32, address: u32, capacity: u32): i32 {
  const vm = vmAt(u32(index));
  if (!vmRangeValid(vm, address, capacity)) return NET_ERROR_FAULT;
  const buffer = vm.netHead;
  if (buffer === 0) return 0;
  const length = load32(buffer + 4);
  if (capacity < length) return NET_ERROR_MESSAGE_SIZE;
  if (!vmPrepareRange(vm, address, length, true)) return NET_ERROR_FAULT;
  memoryCopy(address, buffer + NET_BUFFER_HEADER, length);
  vm.netHead = load32(buffer);
  if (vm.netHead === 0) vm.netTail = 0;
  vm.netCount--;
  kfree(buffer, NET_BUFFER_HEADER + length);
  return i32(length);
}
