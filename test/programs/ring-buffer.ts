// expect: 8
// expect: 2
// expect: 4
// expect: -1
// expect: 1
// expect: 201
// expect: 8
// expect: 245
// expect: 4
// expect: 144
// Ring buffers as structs with an inline Uint16Array: two independent instances, wrap-around,
// full and empty conditions, and a moving average over the last 8 samples.
import { bool, i32, u16, print } from "dsl";

class Ring {
  head: i32 = 0;
  tail: i32 = 0;
  count: i32 = 0;
  dropped: i32 = 0;
  data = new Uint16Array(8);
}

function push(ring: Ring, value: u16): bool {
  if (ring.count === ring.data.length) {
    ring.dropped++;
    return false;
  }
  ring.data[ring.tail] = value;
  ring.tail = (ring.tail + 1) % ring.data.length;
  ring.count++;
  return true;
}

function pop(ring: Ring): i32 {
  if (ring.count === 0) return -1;
  const value: i32 = ring.data[ring.head];
  ring.head = (ring.head + 1) % ring.data.length;
  ring.count--;
  return value;
}

function pushOverwrite(ring: Ring, value: u16): void {
  if (ring.count === ring.data.length) pop(ring);
  push(ring, value);
}

function average(ring: Ring): i32 {
  if (ring.count === 0) return 0;
  let sum: i32 = 0;
  for (let k = 0; k < ring.count; k++) sum += ring.data[(ring.head + k) % ring.data.length];
  return (sum / ring.count) | 0;
}

const input = new Ring();
const output = new Ring();

export function main(): i32 {
  for (let i = 0; i < 10; i++) push(input, u16(i * 100));
  print(input.count);
  print(input.dropped);
  let moved: i32 = 0;
  while (input.count > 0) {
    const v: i32 = pop(input);
    if (v % 200 === 0) {
      push(output, u16(v + 1));
      moved++;
    }
  }
  print(moved);
  print(pop(input));
  print(pop(output));
  print(pop(output));
  const samples = new Ring();
  for (let t = 0; t < 20; t++) pushOverwrite(samples, u16(t * t));
  print(samples.count);
  print(average(samples));
  print(samples.head);
  print(pop(samples));
  return 0;
}
