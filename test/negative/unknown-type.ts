// error: DSL1001
// `unknown` as a parameter type.
import { i32 } from "dsl";

function ignore(value: unknown): i32 { return value === 0 ? 1 : 0; }

export function main(): i32 {
  return ignore(0);
}
