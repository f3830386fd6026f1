// Checksums over byte arrays; imports another library module (a transitive import).
import { i32, u32 } from "dsl";
import { rotateLeft } from "./math.ts";

export type Mixer = (hash: u32, byte: i32) => u32;

export function fnvStep(hash: u32, byte: i32): u32 { return Math.imul(hash ^ byte, 16777619) >>> 0; }
export function rotateStep(hash: u32, byte: i32): u32 { return (rotateLeft(hash, 5) ^ byte) >>> 0; }

export function hashBytes(data: Uint8Array, length: i32, mix: Mixer, seed: u32): u32 {
  let hash: u32 = seed;
  for (let i = 0; i < length; i++) hash = mix(hash, data[i]);
  return hash;
}
