// expect: vector 6 error 0
// expect: resumed after #UD
// expect: vector 13 error 8
// expect: resumed after #GP
// expect: fault count ok
// expect: returned frame resumed
// expect: vector 0 error 0
// exit: 7
// targets: qemu
// Compiler-generated interrupt entries (interruptEntryTable), loadSegments, lgdt/lidt, and faults raised
// on purpose: #UD (no error code) and #GP (with one) are resumed past the faulting instruction; #DE ends
// the program from the handler. The handler sees the registers in the documented frame layout.
import { i32, u32, u16, print, write, addressOf, lgdt, lidt, loadSegments, interruptEntryTable, interruptEntry, load32, store32,
  invalidOpcode, ltr, divideUnchecked, exit } from "dsl";

// Frame layout (ir.ts InterruptEntry): gs fs es ds edi esi ebp esp ebx edx ecx eax vector error eip cs eflags
const FRAME_VECTOR = 48, FRAME_ERROR = 52, FRAME_EIP = 56;

const gdt = new Uint32Array(6);          // null, code 0x08, data 0x10
const gdtDescriptor = new Uint16Array(3); // limit, base low, base high
const idt = new Uint32Array(512);
const idtDescriptor = new Uint16Array(3);
let faults: i32 = 0;

function onInterrupt(frame: u32): void {
  const vector = load32(frame + FRAME_VECTOR);
  write("vector "); write(vector); write(" error "); print(load32(frame + FRAME_ERROR));
  faults++;
  if (vector === 6) store32(frame + FRAME_EIP, load32(frame + FRAME_EIP) + 2);      // ud2 is 2 bytes
  else if (vector === 13) store32(frame + FRAME_EIP, load32(frame + FRAME_EIP) + 3); // ltr ax is 3 bytes
  else exit(7);
}

function onInvalidOpcodeSwitching(frame: u32): u32 {
  store32(frame + FRAME_EIP, load32(frame + FRAME_EIP) + 2);
  return frame;
}

function setGate(vector: i32, entry: u32): void {
  idt[2 * vector] = (entry & 0xffff) | (0x08 << 16);   // offset 15..0, selector
  idt[2 * vector + 1] = (entry & 0xffff0000) | 0x8e00;  // offset 31..16, present, DPL 0, 32-bit interrupt gate
}

function setUpDescriptors(): void {
  gdt[2] = 0x0000ffff; gdt[3] = 0x00cf9a00; // flat ring-0 code (SDM Vol. 3, 3.4.5)
  gdt[4] = 0x0000ffff; gdt[5] = 0x00cf9200; // flat ring-0 data
  gdtDescriptor[0] = u16(6 * 4 - 1);
  gdtDescriptor[1] = u16(addressOf(gdt) & 0xffff);
  gdtDescriptor[2] = u16(addressOf(gdt) >>> 16);
  lgdt(addressOf(gdtDescriptor));
  loadSegments(0x08, 0x10);
  const stubs = interruptEntryTable(onInterrupt);
  for (let v = 0; v < 256; v++) setGate(v, load32(stubs + 4 * v));
  idtDescriptor[0] = u16(256 * 8 - 1);
  idtDescriptor[1] = u16(addressOf(idt) & 0xffff);
  idtDescriptor[2] = u16(addressOf(idt) >>> 16);
  lidt(addressOf(idtDescriptor));
}

export function main(): i32 {
  setUpDescriptors();
  invalidOpcode();
  print("resumed after #UD");
  ltr(0x08);                          // a code segment is no TSS: #GP(selector 0x08) (SDM Vol. 2, LTR)
  print("resumed after #GP");
  print(faults === 2 ? "fault count ok" : "wrong fault count");
  // A handler that returns the frame to resume (here the same one, one instruction further).
  setGate(6, interruptEntry(onInvalidOpcodeSwitching, 6));
  invalidOpcode();
  print("returned frame resumed");
  print(i32(divideUnchecked(1, u32(faults - 2))));
  return 0;
}
