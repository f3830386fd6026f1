// expect: 7
// expect: 14
// Two modules that import each other: a struct declared here is a parameter type there.
import { i32, u32, print } from "dsl";
import { useFrame, doubled } from "./lib/cyclic-partner.ts";

export class Frame { x: u32 = 0; }

export function scale(): u32 { return 2; }

export function main(): i32 {
  const f = new Frame();
  f.x = 7;
  useFrame(f);
  print(doubled(f));
  return 0;
}
