// expect: 6
// expect: 103
// expect: 100
// expect: 4
// expect: 4
// expect: 106
// expect: 3
// expect: -1
// expect: 9
// expect: 3
// expect: 8
// structArray: a table of structs; an element is a reference, so writes through an alias change
// the table; a small process table with a free list.
import { bool, i32, u8, print, structArray } from "dsl";

class Process {
  pid: i32 = 0;
  state: u8 = 0;
  parent: i32 = -1;
  used: bool = false;
  nextFree: i32 = 0;
}

const PROCESS_LIMIT: i32 = 8;
const table = structArray(Process, 8);
let freeHead: i32 = 0;
let nextPid: i32 = 100;

function initialize(): void {
  for (let i = 0; i < PROCESS_LIMIT; i++) {
    const p = table[i];
    p.nextFree = i + 1 < PROCESS_LIMIT ? i + 1 : -1;
  }
  freeHead = 0;
}

function spawn(parent: i32): i32 {
  if (freeHead < 0) return -1;
  const slot: i32 = freeHead;
  const p = table[slot];
  freeHead = p.nextFree;
  p.used = true;
  p.pid = nextPid++;
  p.parent = parent;
  p.state = 1;
  return slot;
}

function release(slot: i32): void {
  const p = table[slot];
  p.used = false;
  p.state = 0;
  p.nextFree = freeHead;
  freeHead = slot;
}

function countUsed(): i32 {
  let n: i32 = 0;
  for (let i = 0; i < table.length; i++) if (table[i].used) n++;
  return n;
}

export function main(): i32 {
  initialize();
  const init: i32 = spawn(0);
  for (let i = 0; i < 5; i++) spawn(table[init].pid);
  print(countUsed());
  print(table[3].pid);
  print(table[3].parent);
  release(2);
  release(4);
  print(countUsed());
  const again: i32 = spawn(101);
  print(again);
  print(table[again].pid);
  let slots: i32 = 0;
  while (spawn(1) >= 0) slots++;
  print(slots);
  print(spawn(1));
  const alias = table[7];
  alias.state = 9;
  print(table[7].state);
  table[7].state = 3;
  print(alias.state);
  print(table.length);
  return 0;
}
