// expect: 5
// expect: 6
// expect: 7
// expect: 7
// expect: 5
// expect: 5
// expect: 12
// expect: 7
// expect: 0
// expect: 1
// expect: 3
// expect: 2
// expect: 1
// expect: 255
// expect: 2
// expect: 1
// expect: 3
// expect: 250
// expect: 1
// expect: 10
// ++ and -- prefix and postfix: the value of the expression, and the variable after it.
import { i32, u32, print } from "dsl";

class Cursor { position: i32 = 0; }

let globalCount: i32 = 0;
const histogram = new Uint8Array(4);

function next(): i32 { return globalCount++; }

export function main(): i32 {
  let i: i32 = 5;
  print(i++);
  print(i);
  print(++i);
  print(i--);
  print(--i);
  print(i);
  const a: i32 = i++ + ++i;
  print(a);
  print(i);
  print(next());
  print(next());
  print(++globalCount);
  histogram[2]++;
  histogram[2]++;
  ++histogram[3];
  histogram[0]--;
  print(histogram[2]);
  print(histogram[3]);
  print(histogram[0]);
  const cursor = new Cursor();
  cursor.position++;
  cursor.position++;
  const old: i32 = cursor.position--;
  print(old);
  print(cursor.position);
  const data = new Int32Array(6);
  let w: i32 = 0;
  data[w++] = 10;
  data[w++] = 20;
  data[++w] = 40;
  print(w);
  print(data[0] + data[1] * 10 + data[2] * 100 + data[3]);
  let u: u32 = 1;
  u--;
  print(u === 0 ? 1 : 0);
  let steps: i32 = 0;
  for (let k: i32 = 10; k > 0; --k) steps++;
  print(steps);
  return 0;
}
