// expect: 4096
// expect: 8
// expect: 0
// expect: -42
// expect: 0
// expect: 1
// expect: 250
// expect: 0
// expect: 4
// expect: 1000
// expect: 1
// expect: 0
// expect: 42
// expect: 4
// expect: 8
// expect: 1048575
// Module-level let/const globals: compile-time constants, initialized data, zeroed storage;
// functions share and mutate them.
import { bool, i32, u8, u32, print } from "dsl";

const PAGE_SIZE: i32 = 4096;
const PAGE_SHIFT = 12;
const MAX_TASKS: i32 = PAGE_SIZE / 512;
let nextPid: i32 = 1;
let ticks: u32 = 0;
let zeroed: i32 = 0;
let initialized: i32 = -42;
let verbose: bool = false;
let enabled: bool = true;
let smallCounter: u8 = 250;
const pageUse = new Uint8Array(16);

function allocatePid(): i32 { return nextPid++; }
function tick(): void { ticks = (ticks + 1) >>> 0; }
function pageOf(address: u32): i32 { return address >>> PAGE_SHIFT; }

export function main(): i32 {
  print(PAGE_SIZE);
  print(MAX_TASKS);
  print(zeroed);
  print(initialized);
  print(i32(verbose));
  print(i32(enabled));
  print(smallCounter);
  print(pageUse[15]);
  for (let i = 0; i < 3; i++) allocatePid();
  print(allocatePid());
  for (let i = 0; i < 1000; i++) tick();
  print(ticks);
  verbose = !verbose;
  enabled = verbose && false;
  print(i32(verbose));
  print(i32(enabled));
  zeroed = zeroed - 1;
  initialized = initialized * zeroed;
  print(initialized);
  smallCounter = u8(smallCounter + 10);
  print(smallCounter);
  pageUse[pageOf(0x5123)] = 1;
  pageUse[pageOf(0xf000)] = 7;
  let used: i32 = 0;
  for (let p = 0; p < pageUse.length; p++) used += pageUse[p];
  print(used);
  print(pageOf(0xffffffff));
  return 0;
}
