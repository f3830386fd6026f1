// expect: 0
// expect: 5
// expect: -1
// expect: -300
// expect: 1
// expect: 8700
// expect: 65535
// expect: 1
// expect: 0
// expect: 1200
// expect: 9
// expect: 7
// expect: 4000000000
// Structs: fields of mixed sizes with initializers, module-level (static) and local (frame)
// instances, passed to functions by reference, returned field values.
import { bool, i8, u8, i16, u16, i32, u32, print } from "dsl";

class Task {
  id: i32 = 0;
  priority: u8 = 5;
  nice: i8 = -1;
  state: u16 = 0;
  delta: i16 = -300;
  runtime: u32 = 0;
  runnable: bool = true;
}

const current = new Task();

function charge(task: Task, ticks: u32): void {
  task.runtime = (task.runtime + ticks) >>> 0;
  if (task.runtime > 1000) task.runnable = false;
}

function score(task: Task): i32 {
  return task.id * 1000 + task.priority * 10 + task.nice + task.delta + i32(task.runnable);
}

function swapIds(a: Task, b: Task): void {
  const t: i32 = a.id;
  a.id = b.id;
  b.id = t;
}

export function main(): i32 {
  print(current.id);
  print(current.priority);
  print(current.nice);
  print(current.delta);
  print(i32(current.runnable));
  current.id = 7;
  current.priority = 200;
  current.state = 65535;
  print(score(current));
  print(current.state);
  const local = new Task();
  local.id = 9;
  charge(local, 600);
  print(i32(local.runnable));
  charge(local, 600);
  print(i32(local.runnable));
  print(local.runtime);
  swapIds(current, local);
  print(current.id);
  print(local.id);
  charge(current, 4000000000);
  print(current.runtime);
  return 0;
}
