// expect: 1
// expect: 1
// expect: 1
// expect: 3
// expect: 2500000000
// expect: 4026531843
// Untyped constants (no annotation; const enum members) and constant expressions of them take the
// other operand's type, like literals: u32 % (COUNT - 2) is an unsigned remainder, as in JavaScript.
import { i32, u32, print } from "dsl";
import { COUNT } from "./lib/constants.ts";
const LOCAL = 10;
const LIMIT = 1000;
const enum Bits { Low = 3 }
let state: u32 = 0x9e3779b9;
function next(): u32 { return state; }
function perTick(): u32 { return 2500000; }
export function main(): i32 {
  print(next() % (COUNT - 2));
  print(next() % (LOCAL - 2));
  print(next() % 8);
  print(2 + (next() % (COUNT - 2)));
  print(perTick() * LIMIT);
  const x: u32 = 0xf0000000;
  print(x + Bits.Low);
  return 0;
}
