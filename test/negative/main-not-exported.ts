// error: DSL2010
// `main` must be exported on every target: under Node the module exposes only its exports, so the
// interpreter and QEMU reject a program whose main is not exported too (issue 12, item 6).
import { i32, print } from "dsl";

function main(): i32 {
  print(1);
  return 0;
}
