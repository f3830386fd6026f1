// Contract: the x86-32 back end's public surface: IR Module -> iced-x86 Instructions (see lower.ts) and the frame
// layout.
export { lowerModule, START_SYMBOL } from "./lower.ts";
export type { AddressResolver, LoweredModule, LowerOptions } from "./lower.ts";
export { layoutFrame } from "./frame.ts";
