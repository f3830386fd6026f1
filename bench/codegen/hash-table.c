// A hash table with open addressing and linear probing (16,384 slots, multiplicative hash): 8,000
// inserts/updates of LCG keys, then 16,000 lookups of which about half hit. DSL twin: hash-table.ts.
#include "c-runtime/runtime.h"

#define SLOTS 16384
#define MASK 16383
static uint32_t keys[16384];
static uint32_t values[16384];

static int32_t slotOf(uint32_t key) {
  return (int32_t)((key * 0x9e3779b1u) >> 18) & MASK;
}

static void insert(uint32_t key, uint32_t value) {
  int32_t slot = slotOf(key);
  while (keys[slot] != 0 && keys[slot] != key) slot = (slot + 1) & MASK;
  keys[slot] = key;
  values[slot] = values[slot] + value;
}

static uint32_t lookup(uint32_t key) {
  int32_t slot = slotOf(key);
  while (keys[slot] != 0) {
    if (keys[slot] == key) return values[slot];
    slot = (slot + 1) & MASK;
  }
  return 0;
}

MEASURED static uint32_t bench(void) {
  for (int32_t i = 0; i < SLOTS; i++) { keys[i] = 0; values[i] = 0; }
  uint32_t state = 99991;
  for (int32_t i = 0; i < 8000; i++) {
    state = state * 1664525u + 1013904223u;
    insert(((state >> 10) & 0x3fff) + 1, (uint32_t)i);
  }
  uint32_t sum = 0;
  uint32_t hits = 0;
  state = 99991;
  for (int32_t i = 0; i < 16000; i++) {
    state = state * 1664525u + 1013904223u;
    const uint32_t v = lookup(((state >> 10) & 0x7fff) + 1);
    if (v != 0) hits++;
    sum = sum * 31u + v;
  }
  return sum ^ (hits << 16);
}

int main(void) {
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
