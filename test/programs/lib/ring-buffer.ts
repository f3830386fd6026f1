// A byte ring buffer with module-level state, shared by whoever imports it.
import { bool, i32, u8 } from "dsl";

export const RING_CAPACITY: i32 = 8;
const storage = new Uint8Array(8);
let head: i32 = 0;
let tail: i32 = 0;
export let ringCount: i32 = 0;

export function ringPush(value: u8): bool {
  if (ringCount === RING_CAPACITY) return false;
  storage[tail] = value;
  tail = (tail + 1) % RING_CAPACITY;
  ringCount++;
  return true;
}

export function ringPop(): i32 {
  if (ringCount === 0) return -1;
  const value: i32 = storage[head];
  head = (head + 1) % RING_CAPACITY;
  ringCount--;
  return value;
}
