// Contract: the x86-32 back end's public surface: IR Module -> iced-x86 Instructions (see lower.ts, which drives
// the rules of rules.ts and intrinsics.ts) and the frame layout.
export { lowerModule, START_SYMBOL } from "./lower.ts";
export type { LoweredModule, LowerOptions } from "./lower.ts";
export type { AddressResolver } from "./context.ts";
export { layoutFrame } from "./frame.ts";
