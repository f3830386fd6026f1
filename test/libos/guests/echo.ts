// Runs guest-src/apps/echo.ts under the test harness: the interpreter calls its entry with the
// multiboot magic, so this entry passes GUEST_MAGIC on to the app's guestMain.
import { u32 } from "dsl";
import { GUEST_MAGIC } from "../../../abi/boot.ts";
import { guestMain } from "../../../guest-src/apps/echo.ts";

export function testMain(magic: u32, bootInfo: u32): void { guestMain(GUEST_MAGIC, bootInfo); }
