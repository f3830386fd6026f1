// expect: deeper
// expect: caller
// expect: main
// expect: 1
// expect: 1
// targets: qemu
// The linker embeds a symbol table (u32 count; {address, size, name} sorted by address; names as
// strings): walking the frame-pointer chain and looking return addresses up names the callers.
import { i32, u32, print, readFramePointer, load32, linkerAddress, stringAt } from "dsl";

function symbolize(address: u32): string {
  const table = linkerAddress("symbolTable");
  const count = load32(table);
  for (let i: u32 = 0; i < count; i++) {
    const entry = table + 4 + 12 * i;
    const start = load32(entry);
    if (address >= start && address < start + load32(entry + 4)) return stringAt(load32(entry + 8));
  }
  return "?";
}

function backtrace(depth: i32): void {
  let frame = readFramePointer();        // backtrace's own frame: [frame] = caller's ebp, [frame + 4] = return address
  for (let i = 0; i < depth && frame !== 0; i++) {
    print(symbolize(load32(frame + 4)));
    frame = load32(frame);
  }
}

function deeper(): void { backtrace(3); }
function caller(): void { deeper(); }

export function main(): i32 {
  // backtrace(3) called from deeper: the return addresses lie in deeper, caller, main
  caller();
  print(i32(linkerAddress("imageEnd") > linkerAddress("stackTop")));
  print(i32((linkerAddress("imageEnd") & 0xfff) === 0));
  return 0;
}
