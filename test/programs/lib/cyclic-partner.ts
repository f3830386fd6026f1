// Imported by test/programs/cyclic-imports.ts, which it imports back (a cycle).
import { u32, print } from "dsl";
import { Frame, scale } from "../cyclic-imports.ts";

export function useFrame(f: Frame): void { print(f.x); }
export function doubled(f: Frame): u32 { return f.x * scale(); }
