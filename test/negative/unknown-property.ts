// error: DSL1007
// A property of a typed array other than length.
import { i32, print } from "dsl";

const buffer = new Uint8Array(16);

export function main(): i32 {
  print(buffer.byteLength);
  return 0;
}
