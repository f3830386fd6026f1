// expect: deeper
// expect: caller
// expect: main
// expect: 1
// expect: 1
// targets: qemu
// The linker embeds a symbol table (u32 count; {address, size, name, unwind} sorted by address; names
// as strings; docs/calling-convention.md): walking the frames — the ebp chain of a function that keeps
// its frame pointer, the unwind table of one without (-O2 omits it where it can) — and looking the
// return addresses up names the callers.
import { i32, u32, print, readFramePointer, load32, linkerAddress, stringAt } from "dsl";

function entryOf(address: u32): u32 {
  const table = linkerAddress("symbolTable");
  const count = load32(table);
  for (let i: u32 = 0; i < count; i++) {
    const entry = table + 4 + 16 * i;
    const start = load32(entry);
    if (address >= start && address < start + load32(entry + 4)) return entry;
  }
  return 0;
}

function symbolize(address: u32): string {
  const entry = entryOf(address);
  return entry === 0 ? "?" : stringAt(load32(entry + 8));
}

/** The unwind state at `address` ({u32 offset, u32 state} rows: cfa | 0x80000000 when ebp is saved), or 0xffffffff: ebp chains the frame. */
function unwindState(address: u32): u32 {
  const entry = entryOf(address);
  if (entry === 0 || load32(entry + 12) === 0) return 0xffffffff;
  const table = load32(entry + 12);
  let state: u32 = 0x7fffffff;
  for (let k: u32 = 0; k < load32(table); k++) {
    if (load32(table + 4 + 8 * k) > address - load32(entry)) break;
    state = load32(table + 8 + 8 * k);
  }
  return state;
}

function backtrace(depth: i32): void {
  // backtrace reads its frame pointer, so it keeps one: [frame] = caller's ebp, [frame + 4] = return address
  const frame = readFramePointer();
  let ebp = load32(frame);
  let esp = frame + 8;
  let returnAddress = load32(frame + 4);
  for (let i = 0; i < depth && returnAddress !== 0; i++) {
    print(symbolize(returnAddress - 1));
    const state = unwindState(returnAddress - 1);
    if (state === 0xffffffff) {
      returnAddress = load32(ebp + 4);
      esp = ebp + 8;
      ebp = load32(ebp);
    } else {
      const cfa = state & 0x7fffffff;
      const next = load32(esp + cfa);
      if ((state & 0x80000000) !== 0) ebp = load32(esp + cfa - 4);
      esp = esp + cfa + 4;
      returnAddress = next;
    }
  }
}

function deeper(): void { backtrace(3); }
function caller(): void { deeper(); }

export function main(): i32 {
  // backtrace(3) called from deeper: the return addresses lie in deeper, caller, main
  caller();
  print(i32(linkerAddress("imageEnd") >= linkerAddress("stackTop")));   // the image covers its stack
  print(i32((linkerAddress("imageEnd") & 0xfff) === 0));
  return 0;
}
