// error: DSL1014
// A regular expression literal.
import { i32, print } from "dsl";

export function main(): i32 {
  const digits = /[0-9]+/;
  print(0);
  return 0;
}
