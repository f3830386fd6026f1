// expect: call 7 args 1 2 3 4
// expect: result -2
// expect: call 0 args 4294967295 0 65535 2147483648
// expect: result 42
// expect: registers kept 1
// targets: qemu
// The hypercall intrinsic traps with int 0x80, number in eax and arguments in ebx ecx edx esi; the
// handler's eax is the result. Values held in callee-saved registers survive the call.
import { i32, u32, u16, print, write, addressOf, lgdt, lidt, loadSegments, interruptEntry, load32, store32, hypercall } from "dsl";

// Frame layout (docs/calling-convention.md): edi 16, esi 20, ebx 32, edx 36, ecx 40, eax 44
const FRAME_ESI = 20, FRAME_EBX = 32, FRAME_EDX = 36, FRAME_ECX = 40, FRAME_EAX = 44;

const gdt = new Uint32Array(6);
const gdtDescriptor = new Uint16Array(3);
const idt = new Uint32Array(512);
const idtDescriptor = new Uint16Array(3);

function onHypercall(frame: u32): void {
  write("call "); write(load32(frame + FRAME_EAX));
  write(" args "); write(load32(frame + FRAME_EBX)); write(" "); write(load32(frame + FRAME_ECX));
  write(" "); write(load32(frame + FRAME_EDX)); write(" "); print(load32(frame + FRAME_ESI));
  store32(frame + FRAME_EAX, load32(frame + FRAME_EAX) === 7 ? u32(-2) : 42);
}

function setUp(): void {
  gdt[2] = 0x0000ffff; gdt[3] = 0x00cf9a00;
  gdt[4] = 0x0000ffff; gdt[5] = 0x00cf9200;
  gdtDescriptor[0] = u16(6 * 4 - 1);
  gdtDescriptor[1] = u16(addressOf(gdt) & 0xffff);
  gdtDescriptor[2] = u16(addressOf(gdt) >>> 16);
  lgdt(addressOf(gdtDescriptor));
  loadSegments(0x08, 0x10);
  const entry = interruptEntry(onHypercall, 0x80);
  idt[2 * 0x80] = (entry & 0xffff) | (0x08 << 16);
  idt[2 * 0x80 + 1] = (entry & 0xffff0000) | 0xee00; // present, DPL 3, 32-bit interrupt gate
  idtDescriptor[0] = u16(256 * 8 - 1);
  idtDescriptor[1] = u16(addressOf(idt) & 0xffff);
  idtDescriptor[2] = u16(addressOf(idt) >>> 16);
  lidt(addressOf(idtDescriptor));
}

function sum(n: i32): i32 {
  // many live values around the call: some live in ebx/esi/edi
  let a = n + 1, b = n + 2, c = n + 3, d = n + 4;
  const r = hypercall(0, 0xffffffff, 0, 0xffff, 0x80000000);
  write("result "); print(r);
  return a + b + c + d;
}

export function main(): i32 {
  setUp();
  const r = hypercall(7, 1, 2, 3, 4);
  write("result "); print(r);
  const kept = sum(10) === 50;
  write("registers kept "); print(i32(kept));
  return 0;
}
