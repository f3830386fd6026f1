// expect: 0
// expect: 3
// expect: 3
// expect: 10
// expect: 110
// expect: 1110
// expect: -1
// expect: 365
// expect: 111
// expect: 100
// expect: 1000
// expect: 110
// expect: 5
// switch on integers: case constants, fall-through, default (also in the middle), enum cases.
import { i32, print } from "dsl";

const enum Opcode { Nop = 0, Load = 1, Store = 2, Add = 10, Jump = 20, Halt = 255 }

function cost(op: i32): i32 {
  let c: i32 = 0;
  switch (op) {
    case Opcode.Halt:
      c += 1000;
    // falls through
    case Opcode.Jump:
      c += 100;
    // falls through
    case Opcode.Add:
      c += 10;
      break;
    case Opcode.Load:
    case Opcode.Store:
      c = 3;
      break;
    case Opcode.Nop:
      break;
    default:
      c = -1;
  }
  return c;
}

function daysInMonth(month: i32): i32 {
  switch (month) {
    case 2:
      return 28;
    default:
      return 31;
    case 4:
    case 6:
    case 9:
    case 11:
      return 30;
  }
}

function middleDefault(x: i32): i32 {
  let r: i32 = 0;
  switch (x) {
    case 1:
      r += 1;
    default:
      r += 10;
    case 2:
      r += 100;
      break;
    case 3:
      r += 1000;
  }
  return r;
}

export function main(): i32 {
  print(cost(Opcode.Nop));
  print(cost(Opcode.Load));
  print(cost(Opcode.Store));
  print(cost(Opcode.Add));
  print(cost(Opcode.Jump));
  print(cost(Opcode.Halt));
  print(cost(7));
  let year: i32 = 0;
  for (let m = 1; m <= 12; m++) year += daysInMonth(m);
  print(year);
  print(middleDefault(1));
  print(middleDefault(2));
  print(middleDefault(3));
  print(middleDefault(4));
  let empty: i32 = 5;
  switch (empty) {
  }
  print(empty);
  return 0;
}
