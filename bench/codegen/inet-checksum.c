// TCP-checksum-like loops: the RFC 1071 Internet checksum (16-bit big-endian words, ones' complement
// sum, carries folded) of 40 packets of 1,460 payload bytes, each with a 12-byte pseudo-header
// (source, destination, protocol 6, length). DSL twin: inet-checksum.ts.
#include "c-runtime/runtime.h"

#define PACKET 1460
static uint8_t packet[1460];
static uint8_t pseudo[12];

static uint32_t sum16(const uint8_t *bytes, int32_t length, uint32_t initial) {
  uint32_t sum = initial;
  int32_t i = 0;
  while (i + 1 < length) {
    sum = sum + (uint32_t)((bytes[i] << 8) | bytes[i + 1]);
    i += 2;
  }
  if (i < length) sum = sum + (uint32_t)(bytes[i] << 8);
  return sum;
}

static uint32_t fold(uint32_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

MEASURED static uint32_t bench(void) {
  uint32_t check = 0;
  for (int32_t p = 0; p < 40; p++) {
    for (int32_t i = 0; i < PACKET; i++) packet[i] = (uint8_t)((i * 7 + p * 13) ^ (i >> 3));
    const uint32_t source = 0xc6120001u + (uint32_t)p;
    const uint32_t destination = 0xc6120100u + (uint32_t)(p & 7);
    for (int32_t k = 0; k < 4; k++) {
      pseudo[k] = (uint8_t)(source >> (24 - k * 8));
      pseudo[k + 4] = (uint8_t)(destination >> (24 - k * 8));
    }
    pseudo[8] = 0;
    pseudo[9] = 6;
    pseudo[10] = PACKET >> 8;
    pseudo[11] = PACKET & 0xff;
    const uint32_t partial = sum16(pseudo, 12, 0);
    const uint32_t sum = fold(sum16(packet, PACKET - p, partial));
    check = check * 33u ^ sum;
  }
  return check;
}

int main(void) {
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
