// expect: 8
// expect: 9
// expect: 12
// expect: 17
// A const enum member may use a module-level constant (a compile-time constant, dsl/README.md), and a
// constant may use an enum member, declared before it, as tsc requires (issue 12, item 6).
import { i32, print } from "dsl";

const N = 4;
const Eleven = N + 7;
const enum L { M = N * 2, P = M + 1, Q = Eleven + 1 }
const AfterEnum = L.Q + 5;

export function main(): i32 {
  print(L.M);
  print(L.P);
  print(L.Q);
  print(AfterEnum);
  return 0;
}
