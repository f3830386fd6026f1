// expect: 0
// expect: 1
// expect: 2
// expect: 1016
// expect: 765
// expect: 888
// expect: -1
// expect: 0
// expect: 11
// expect: 12
// expect: 7
// expect: 239
// expect: 0
// expect: 1
// expect: 6000
// const enums: implicit and explicit values, continuing after an explicit value, constant
// expressions, use in arithmetic, as indexes and in switch.
import { i32, print } from "dsl";

const enum Color { Red, Green, Blue }
const enum Port { Com1 = 0x3f8, Com2 = 0x2f8, Lpt1 = 0x378 }
const enum Level { Debug = -1, Info, Warn = 10, Error, Fatal }
const enum Flag { Read = 1 << 0, Write = 1 << 1, Execute = 1 << 2, All = Read | Write | Execute }

const brightness = new Int32Array(3);

function levelName(level: i32): i32 {
  switch (level) {
    case Level.Debug: return 100;
    case Level.Info: return 200;
    case Level.Warn: return 300;
    case Level.Error: return 400;
    default: return 500;
  }
}

export function main(): i32 {
  print(Color.Red);
  print(Color.Green);
  print(Color.Blue);
  print(Port.Com1);
  print(Port.Com2 + 5);
  print(Port.Lpt1);
  print(Level.Debug);
  print(Level.Info);
  print(Level.Error);
  print(Level.Fatal);
  print(Flag.All);
  brightness[Color.Blue] = 255;
  brightness[Color.Red] = 16;
  print(brightness[2] - brightness[0]);
  let permissions: i32 = Flag.Read | Flag.Execute;
  print(i32((permissions & Flag.Write) !== 0));
  permissions |= Flag.Write;
  print(i32(permissions === Flag.All));
  let sum: i32 = 0;
  for (let level: i32 = Level.Debug; level <= Level.Fatal; level++) sum += levelName(level);
  print(sum);
  return 0;
}
