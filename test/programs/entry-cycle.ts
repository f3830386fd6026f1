// expect: 15
// expect: 20
// A module imported by the entry file imports the entry back: every target must load the entry once,
// so the partner's call changes the very `total` that main prints (issue 12, item 7).
import { i32, print } from "dsl";
import { addFive } from "./lib/entry-cycle-partner.ts";

let total: i32 = 10;
export function bump(): void { total = total + 5; }

export function main(): i32 {
  addFive();
  print(total);
  addFive();
  print(total);
  return 0;
}
