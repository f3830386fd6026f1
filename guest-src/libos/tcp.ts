import { i32, u32 } from "dsl";
export function tcpInit(): void {}
export function tcpTimer(): u32 { return 0xffffffff; }
export function tcpInput(frame: Uint8Array, offset: i32, length: i32, source: u32, destination: u32): void {}
