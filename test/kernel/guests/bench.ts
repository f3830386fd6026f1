// bench:vm's VM-pair costs for bytecode VMs (pair-bench.ts; the worker's image holds kernel-only
// intrinsics, which the bytecode verifier refuses): two VMs of this image, exit 0 when done.
import { u32, exit, overlay } from "dsl";
import { BootInfo } from "../../../abi/boot.ts";
import { benchPair } from "./pair-bench.ts";

const frame = new Uint8Array(64);
const wakeClock = new Uint32Array(2);

export function guestMain(magic: u32, bootInfo: u32): void {
  benchPair(overlay(BootInfo, bootInfo).vmId, frame, wakeClock);
  exit(0);
}
