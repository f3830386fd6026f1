// Hostile guest: jumps out of its code. A function reference is a code address; a struct laid over a
// word we wrote (overlay) turns any address into a callable reference. The manifest's argument picks
// the target: 0 the kernel's first code page (0x00100000), 1 the kernel's boot-time code at
// 0x00100000 + 0x1000, 2 just below GUEST_BASE, 3 past the end of memory, 4 this VM's own data holding
// `hlt` bytes (executable data: the hlt must still fault in ring 3), 5 0xFFFFFFF0.
// Each must fault (#PF on fetch, or #GP) and end only this VM.
import { u32, overlay, addressOf, memoryFill } from "dsl";
import { bootInit, argument, memoryEnd } from "../runtime/boot.ts";
import { GUEST_BASE } from "../../abi/boot.ts";
import { announceAddress, notContained } from "./common.ts";

type Target = () => void;

function nothing(): void {}

/** A struct with one field holding a function value: laid over `word`, it calls whatever address is there. */
class Slot { target: Target = nothing; }

const word = new Uint32Array(1);
const hltBytes = new Uint8Array(16);

function targetAddress(which: u32): u32 {
  switch (which) {
    case 0: return 0x00100000;
    case 1: return 0x00101000;
    case 2: return GUEST_BASE - 16;
    case 3: return memoryEnd();
    case 4: memoryFill(addressOf(hltBytes), 0xf4, 16); return addressOf(hltBytes);
    default: return 0xfffffff0;
  }
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  const address = targetAddress(argument());
  word[0] = address;
  const slot = overlay(Slot, addressOf(word));
  announceAddress("jump", "call", address);
  slot.target();
  notContained("jump");
}
