// error: DSL2004
// A typed array whose length is not a constant.
import { i32, print } from "dsl";

function make(n: i32): i32 {
  const buffer = new Uint8Array(n);
  return buffer.length;
}

export function main(): i32 {
  print(make(4));
  return 0;
}
