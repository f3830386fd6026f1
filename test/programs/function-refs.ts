// expect: 17
// expect: 7
// expect: 60
// expect: 12
// expect: -9
// expect: -21
// expect: 1
// expect: 0
// expect: 15
// expect: 13
// expect: 468
// expect: 15
// expect: 5
// expect: 8
// expect: 42
// expect: 7
// Function references: a type alias, values in variables, in a module-level table, in struct
// fields, as parameters, compared, and called indirectly.
import { i32, print } from "dsl";

type Op = (a: i32, b: i32) => i32;
type Visitor = (value: i32) => void;

function add(a: i32, b: i32): i32 { return (a + b) | 0; }
function sub(a: i32, b: i32): i32 { return (a - b) | 0; }
function mul(a: i32, b: i32): i32 { return Math.imul(a, b); }
function max(a: i32, b: i32): i32 { return a > b ? a : b; }

const ops: Op[] = [add, sub, mul, max];

let visited: i32 = 0;
function visitSum(value: i32): void { visited += value; }
function visitCount(value: i32): void { visited += value - value + 1; }

class Handler { id: i32 = 0; run: Op = add; }

function fold(op: Op, values: Int32Array, initial: i32): i32 {
  let acc: i32 = initial;
  for (let i = 0; i < values.length; i++) acc = op(acc, values[i]);
  return acc;
}

function forEach(values: Int32Array, visit: Visitor): void {
  for (let i = 0; i < values.length; i++) visit(values[i]);
}

export function main(): i32 {
  for (let i = 0; i < ops.length; i++) print(ops[i](12, 5));
  let op: Op = sub;
  print(op(1, 10));
  op = ops[2];
  print(op(-3, 7));
  print(i32(op === mul));
  print(i32(op === add));
  const values = new Int32Array(5);
  for (let i = 0; i < values.length; i++) values[i] = i * i - 3;
  print(fold(add, values, 0));
  print(fold(max, values, -100));
  print(fold(mul, values, 1));
  forEach(values, visitSum);
  print(visited);
  visited = 0;
  forEach(values, visitCount);
  print(visited);
  const handler = new Handler();
  handler.id = 7;
  print(handler.run(handler.id, 1));
  handler.run = mul;
  print(handler.run(handler.id, 6));
  ops[0] = sub;
  print(ops[0](12, 5));
  return 0;
}
