// error: DSL1016
// An import from a Node module.
import { readFileSync } from "fs";
import { i32, print } from "dsl";

export function main(): i32 {
  print(0);
  return 0;
}
