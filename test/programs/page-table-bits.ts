// expect: 768
// expect: 291
// expect: 2748
// expect: fedcb043
// expect: 4275875907
// expect: 4275875840
// expect: 0
// expect: 1
// expect: fedcb003
// expect: 2147488308
// expect: 4294967295
// expect: ffffffff
// expect: 682
// 32-bit x86 paging arithmetic on u32 values (Intel SDM vol. 3, 4.3): splitting a linear address
// into directory, table and offset; building and decoding page-table entries.
import { bool, i32, u32, print, writeHex } from "dsl";

const PTE_PRESENT: u32 = 1 << 0;
const PTE_WRITABLE: u32 = 1 << 1;
const PTE_USER: u32 = 1 << 2;
const PTE_ACCESSED: u32 = 1 << 5;
const PTE_DIRTY: u32 = 1 << 6;
const FRAME_MASK: u32 = 0xfffff000;
const KERNEL_PHYSICAL_BASE: u32 = 0x80000000;

function directoryIndex(address: u32): i32 { return address >>> 22; }
function tableIndex(address: u32): i32 { return (address >>> 12) & 0x3ff; }
function pageOffset(address: u32): i32 { return address & 0xfff; }

function makeEntry(physical: u32, flags: u32): u32 { return ((physical & FRAME_MASK) | flags) >>> 0; }
function frameOf(entry: u32): u32 { return (entry & FRAME_MASK) >>> 0; }
function has(entry: u32, flag: u32): bool { return (entry & flag) !== 0; }

const pageTable = new Uint32Array(1024);

function translate(address: u32): u32 {
  const entry: u32 = pageTable[tableIndex(address)];
  if (!has(entry, PTE_PRESENT)) return 0xffffffff;
  return (frameOf(entry) | pageOffset(address)) >>> 0;
}

export function main(): i32 {
  const address: u32 = 0xc0123abc;
  print(directoryIndex(address));
  print(tableIndex(address));
  print(pageOffset(address));
  const entry: u32 = makeEntry(0xfedcb123, PTE_PRESENT | PTE_WRITABLE | PTE_DIRTY);
  writeHex(entry);
  print("");
  print(entry);
  print(frameOf(entry));
  print(i32(has(entry, PTE_USER)));
  print(i32(has(entry, PTE_DIRTY)));
  const cleared: u32 = (entry & ~(PTE_DIRTY | PTE_ACCESSED)) >>> 0;
  writeHex(cleared);
  print("");
  for (let i = 0; i < 1024; i++) pageTable[i] = makeEntry((KERNEL_PHYSICAL_BASE + (i << 12)) >>> 0, i % 3 === 0 ? 0 : PTE_PRESENT);
  print(translate(0x00001234));
  print(translate(0x00003234));
  writeHex(translate(0x003ff00f));
  print("");
  let present: i32 = 0;
  for (let i = 0; i < 1024; i++) if (has(pageTable[i], PTE_PRESENT)) present++;
  print(present);
  return 0;
}
