// expect: 470010953
// A hash table with open addressing and linear probing (16,384 slots, multiplicative hash): 8,000
// inserts/updates of LCG keys, then 16,000 lookups of which about half hit. C twin: hash-table.c.
import { i32, u32, print, rdtsc } from "dsl";

const SLOTS = 16384;
const MASK = 16383;
const keys = new Uint32Array(16384);
const values = new Uint32Array(16384);

function slotOf(key: u32): i32 {
  return (Math.imul(key, 0x9e3779b1) >>> 18) & MASK;
}

function insert(key: u32, value: u32): void {
  let slot: i32 = slotOf(key);
  while (keys[slot] !== 0 && keys[slot] !== key) slot = (slot + 1) & MASK;
  keys[slot] = key;
  values[slot] = (values[slot] + value) >>> 0;
}

function lookup(key: u32): u32 {
  let slot: i32 = slotOf(key);
  while (keys[slot] !== 0) {
    if (keys[slot] === key) return values[slot];
    slot = (slot + 1) & MASK;
  }
  return 0;
}

function bench(): u32 {
  for (let i = 0; i < SLOTS; i++) { keys[i] = 0; values[i] = 0; }
  let state: u32 = 99991;
  for (let i = 0; i < 8000; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    insert(((state >>> 10) & 0x3fff) + 1, i);
  }
  let sum: u32 = 0;
  let hits: u32 = 0;
  state = 99991;
  for (let i = 0; i < 16000; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const v: u32 = lookup(((state >>> 10) & 0x7fff) + 1);
    if (v !== 0) hits++;
    sum = (Math.imul(sum, 31) + v) >>> 0;
  }
  return (sum ^ (hits << 16)) >>> 0;
}

export function main(): i32 {
  const start: u32 = rdtsc();
  const result: u32 = bench();
  const end: u32 = rdtsc();
  print(result);
  print((end - start) >>> 0);
  return 0;
}
