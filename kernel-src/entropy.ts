// Contract: the secret each VM is born with (abi/boot.ts BootInfo.entropy): 128 bits that no one outside the
// machine can predict, for what a guest must hide from off-path attackers (libos tcp.ts: its initial sequence
// numbers, RFC 6528; its SYN cookies' key, RFC 4987; its ephemeral ports, RFC 6056; its challenge ACKs). The
// virtual architecture has no random-number instruction and the guests no entropy of their own (their clock is
// the VM's start time, which an attacker guesses to a few bits), so the kernel keeps a pool of 128 bits,
// stirred with the TSC at boot and at the arrival of every hardware interrupt (the host's timing: network, disk
// and timer jitter in the cycle count's low bits), and derives each VM's words with HalfSipHash-2-4
// (dsl/runtime/halfsiphash.ts) keyed by the pool over the VM's id, the count of VMs born before it and the
// word's index: one VM's words tell nothing of another's, nor of the pool. Under `qemu -icount` the TSC counts
// instructions, so the pool, hence every VM's secret, repeats from boot to boot (deterministic tests rely on it);
// on hardware and in real time each boot differs. Not a generator with entropy estimation (Linux's random.c):
// a keyed derivation from the timing the machine saw.
import { i32, u32, rdtsc, rdtscHigh, store32 } from "dsl";
import { halfSipHash3 } from "../dsl/runtime/halfsiphash.ts";
import { ENTROPY_WORDS } from "../abi/boot.ts";

const pool = new Uint32Array(4);
let stirs: u32 = 0;
let born: u32 = 0;

/** Mixes the TSC into the pool (a few instructions): at boot and at the arrival of each hardware interrupt. */
export function entropyStir(): void {
  const i = i32(stirs & 3);
  const word = pool[i];
  pool[i] = u32(((word << 7) | (word >>> 25)) ^ rdtsc() ^ pool[(i + 1) & 3]);
  stirs++;
}

/** At boot: the TSC's both halves, before anything else runs. */
export function entropyInit(): void {
  pool[0] = rdtsc();
  pool[1] = rdtscHigh();
  pool[2] = 0x243f6a88;           // pi's first fraction bits: the halves of the key differ from the start
  pool[3] = 0x85a308d3;
  for (let i = 0; i < 8; i++) entropyStir();
}

/** Writes VM `id`'s secret (ENTROPY_WORDS words) at `address` (its boot page's BootInfo.entropy). */
export function entropyForVm(id: u32, address: u32): void {
  entropyStir();
  born++;
  const k0 = u32(pool[0] ^ pool[2]);
  const k1 = u32(pool[1] ^ pool[3]);
  for (let w: u32 = 0; w < ENTROPY_WORDS; w++) store32(address + w * 4, halfSipHash3(k0, k1, id, born, w));
}
