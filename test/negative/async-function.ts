// error: DSL1011
// An async function.
import { i32 } from "dsl";

async function later(): Promise<void> {}

export function main(): i32 {
  later();
  return 0;
}
