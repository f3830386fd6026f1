// expect: 00000000
// expect: 000000ff
// expect: deadbeef
// expect: ffffffff
// expect: 80000000 = 2147483648
// expect: a-5b7c
// expect: 00000000: 11 48 85 122 159 196 233 14 51 88 125 162 199 236 17 54
// expect: 00000010: 91 128 165 202 239 20 57 94 131 168 205 242 23 60 97 134
// expect: 00000020: 171 208 245 26 63 100 137 174
// write (no newline) and writeHex (8 lower-case hex digits, no prefix) composed into lines:
// a hex dump of a byte buffer with its offsets.
import { i32, u32, print, write, writeHex } from "dsl";

const memory = new Uint8Array(40);

function dump(data: Uint8Array, length: i32): void {
  for (let offset = 0; offset < length; offset += 16) {
    writeHex(offset);
    write(":");
    for (let i = offset; i < offset + 16 && i < length; i++) {
      write(" ");
      write(data[i]);
    }
    print("");
  }
}

export function main(): i32 {
  writeHex(0);
  print("");
  writeHex(255);
  print("");
  writeHex(0xdeadbeef);
  print("");
  writeHex(-1);
  print("");
  const word: u32 = 0x80000000;
  writeHex(word);
  write(" = ");
  print(word);
  write("a");
  write(-5);
  write("b");
  write(7);
  print("c");
  for (let i = 0; i < memory.length; i++) memory[i] = Math.imul(i, 37) + 11;
  dump(memory, memory.length);
  return 0;
}
