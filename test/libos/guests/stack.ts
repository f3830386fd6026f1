// Test guest for test/libos: the libos network stack with a UDP echo on port 7. The harness's
// boot page gives the MAC and addresses; it calls guestMain with the multiboot magic, so the magic
// check is skipped (bootInit gets GUEST_MAGIC).
import { i32, u32, print } from "dsl";
import { bootInit, GUEST_MAGIC } from "../../../guest-src/runtime/boot.ts";
import { enableInterrupts } from "../../../guest-src/runtime/events.ts";
import { stackInitFromBoot, stackRun } from "../../../guest-src/libos/stack.ts";
import { udpBind, udpSend } from "../../../guest-src/libos/udp.ts";

function udpEcho(source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32): void {
  udpSend(source, sourcePort, localPort, data, offset, length);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(GUEST_MAGIC, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  udpBind(7, udpEcho);
  print("stack up");
  stackRun();
}
