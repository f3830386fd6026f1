// error: DSL2003
// A `u8[]` is a plain array (a JavaScript Array under Node, whose elements do not wrap): storing an i32
// into an element narrows and needs u8(...) (issue 12, item 5). A Uint8Array element would wrap.
import { i32, u8, print } from "dsl";

const bytes: u8[] = [1, 2, 3];

export function main(): i32 {
  const big: i32 = 300;
  bytes[0] = big;
  print(bytes[0]);
  return 0;
}
