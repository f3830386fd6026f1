// expect: 40
// expect: 0
// expect: 1521
// expect: -1
// expect: 40
// expect: 777
// expect: 14
// expect: 26
// expect: 0
// expect: 16
// expect: 64
// expect: 12
// expect: 0
// expect: -137
// expect: 0
// expect: 1126
// An open-addressing hash table with linear probing: insert, update, lookup, delete with
// tombstones, and probe statistics. Keys are i32, values i32, hashing by a multiplicative mix.
import { bool, i32, u8, print } from "dsl";

const CAPACITY: i32 = 64;
const EMPTY: u8 = 0;
const FULL: u8 = 1;
const DELETED: u8 = 2;

const states = new Uint8Array(64);
const keys = new Int32Array(64);
const values = new Int32Array(64);
let size: i32 = 0;
let totalProbes: i32 = 0;

function slotOf(key: i32): i32 {
  return (Math.imul(key, 0x9e3779b1) >>> 26) & (CAPACITY - 1);
}

function insert(key: i32, value: i32): bool {
  let slot: i32 = slotOf(key);
  let firstFree: i32 = -1;
  for (let probe = 0; probe < CAPACITY; probe++) {
    totalProbes++;
    const state: u8 = states[slot];
    if (state === EMPTY) {
      if (firstFree < 0) firstFree = slot;
      break;
    }
    if (state === DELETED) {
      if (firstFree < 0) firstFree = slot;
    } else if (keys[slot] === key) {
      values[slot] = value;
      return true;
    }
    slot = (slot + 1) & (CAPACITY - 1);
  }
  if (firstFree < 0) return false;
  states[firstFree] = FULL;
  keys[firstFree] = key;
  values[firstFree] = value;
  size++;
  return true;
}

function find(key: i32): i32 {
  let slot: i32 = slotOf(key);
  for (let probe = 0; probe < CAPACITY; probe++) {
    totalProbes++;
    if (states[slot] === EMPTY) return -1;
    if (states[slot] === FULL && keys[slot] === key) return slot;
    slot = (slot + 1) & (CAPACITY - 1);
  }
  return -1;
}

function lookup(key: i32, missing: i32): i32 {
  const slot: i32 = find(key);
  return slot < 0 ? missing : values[slot];
}

function remove(key: i32): bool {
  const slot: i32 = find(key);
  if (slot < 0) return false;
  states[slot] = DELETED;
  size--;
  return true;
}

export function main(): i32 {
  for (let i = 0; i < 40; i++) insert(Math.imul(i, 7919) - 100, i * i);
  print(size);
  print(lookup(-100, -1));
  print(lookup(Math.imul(39, 7919) - 100, -1));
  print(lookup(12345, -1));
  insert(-100, 777);
  print(size);
  print(lookup(-100, -1));
  let removed: i32 = 0;
  for (let i = 0; i < 40; i += 3) if (remove(Math.imul(i, 7919) - 100)) removed++;
  print(removed);
  print(size);
  print(i32(remove(-100)));
  print(lookup(Math.imul(4, 7919) - 100, -1));
  let failed: i32 = 0;
  for (let i = 100; i < 150; i++) if (!insert(i, -i)) failed++;
  print(size);
  print(failed);
  print(i32(insert(999999, 1)));
  print(lookup(137, 0));
  print(lookup(138, 0));
  print(totalProbes);
  return 0;
}
