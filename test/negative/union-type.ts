// error: DSL1001
// A union type.
import { i32, print } from "dsl";

function width(kind: 8 | 16 | 32): i32 { return kind; }

export function main(): i32 {
  print(width(16));
  return 0;
}
