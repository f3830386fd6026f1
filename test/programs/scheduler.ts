// expect: finished: 40 10 20 30 50
// expect: 24
// expect: 4
// expect: 5
// expect: 7
// expect: 1
// expect: 7
// A round-robin scheduler simulation: a structArray of tasks, each with a function reference for
// its work, time slices, priorities, and a trace of the order in which tasks finish.
import { bool, i32, print, write, structArray } from "dsl";

type Work = (remaining: i32) => i32;

function cpuBound(remaining: i32): i32 { return remaining - 3; }
function ioBound(remaining: i32): i32 { return remaining - 1; }
function halving(remaining: i32): i32 { return remaining >> 1; }

class Task {
  id: i32 = 0;
  remaining: i32 = 0;
  runs: i32 = 0;
  finished: bool = false;
  work: Work = cpuBound;
}

const tasks = structArray(Task, 5);
let clock: i32 = 0;

function setup(index: i32, id: i32, amount: i32, work: Work): void {
  const t = tasks[index];
  t.id = id;
  t.remaining = amount;
  t.work = work;
}

function runSlice(t: Task): bool {
  t.runs++;
  clock++;
  t.remaining = t.work(t.remaining);
  if (t.remaining <= 0) {
    t.finished = true;
    return true;
  }
  return false;
}

export function main(): i32 {
  setup(0, 10, 12, cpuBound);
  setup(1, 20, 5, ioBound);
  setup(2, 30, 100, halving);
  setup(3, 40, 1, ioBound);
  setup(4, 50, 20, cpuBound);
  let active: i32 = tasks.length;
  let current: i32 = 0;
  write("finished:");
  while (active > 0) {
    const t = tasks[current];
    if (!t.finished && runSlice(t)) {
      active--;
      write(" ");
      write(t.id);
    }
    current = (current + 1) % tasks.length;
  }
  print("");
  print(clock);
  for (let i = 0; i < tasks.length; i++) print(tasks[i].runs);
  return 0;
}
