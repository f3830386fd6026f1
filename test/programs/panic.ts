// expect: parsing header
// expect: magic 51966
// exit: 101
// stderr: panic: bad version
// panic(message) prints `panic: MESSAGE (in FUNCTION)` on stderr and stops with status 101; what
// was printed before stays. (panic behaves the same under Node, so this program keeps the node target.)
import { i32, u16, print, write, panic } from "dsl";

const image = new Uint8Array(8);

function readU16(offset: i32): u16 { return u16(image[offset] | (image[offset + 1] << 8)); }

function checkVersion(version: i32): void {
  if (version !== 1) panic("bad version");
}

export function main(): i32 {
  image[0] = 0xfe;
  image[1] = 0xca;
  image[2] = 7;
  print("parsing header");
  const magic: i32 = readU16(0);
  if (magic !== 0xcafe) panic("bad magic");
  write("magic ");
  print(magic);
  checkVersion(image[2]);
  print("unreachable");
  return 0;
}
