// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), table-driven, over a 32 KiB buffer of
// xorshift32 bytes. DSL twin: crc32.ts.
#include "c-runtime/runtime.h"

static uint32_t table[256];
static uint8_t data[32768];

static void makeTable(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int32_t k = 0; k < 8; k++) c = (c & 1) != 0 ? (0xedb88320u ^ (c >> 1)) : c >> 1;
    table[n] = c;
  }
}

static void fill(void) {
  uint32_t x = 2463534242u;
  for (int32_t i = 0; i < (int32_t)sizeof data; i++) {
    x = x ^ (x << 13);
    x = x ^ (x >> 17);
    x = x ^ (x << 5);
    data[i] = x & 0xff;
  }
}

static uint32_t crc32(int32_t length) {
  uint32_t crc = 0xffffffffu;
  for (int32_t i = 0; i < length; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

MEASURED static uint32_t bench(void) {
  return crc32(sizeof data);
}

int main(void) {
  makeTable();
  fill();
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
