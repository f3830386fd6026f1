// error: DSL1015
// declare.
import { i32, print } from "dsl";

declare const externalCounter: i32;

export function main(): i32 {
  print(externalCounter);
  return 0;
}
