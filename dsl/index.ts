// The DSL's core library. DSL files import from "dsl".
//
// Two meanings for every name here:
//  - for our compiler, these are built-ins: the compiler recognises them by name and emits code itself
//    (the bodies below are never compiled);
//  - for Node (`denali run --target node`), the bodies below are the runtime, written so that a
//    program that stays portable (see dsl/README.md) prints exactly what the compiled program prints.
// Machine intrinsics (port I/O, control registers, raw memory) have no meaning under Node and throw.

// ---- integer types -------------------------------------------------------------------------------
// All are `number` to tsc; the compiler gives each its width and signedness (dsl/README.md).
export type i8 = number;
export type u8 = number;
export type i16 = number;
export type u16 = number;
export type i32 = number;
export type u32 = number;
export type bool = boolean;

// ---- explicit conversions (wrap to the target width, like a C cast) -------------------------------
export function i8(x: number | boolean): i8 { return (Number(x) << 24) >> 24; }
export function u8(x: number | boolean): u8 { return Number(x) & 0xff; }
export function i16(x: number | boolean): i16 { return (Number(x) << 16) >> 16; }
export function u16(x: number | boolean): u16 { return Number(x) & 0xffff; }
export function i32(x: number | boolean): i32 { return Number(x) | 0; }
export function u32(x: number | boolean): u32 { return Number(x) >>> 0; }
export function bool(x: number | boolean): bool { return Number(x) !== 0; }

// ---- output ---------------------------------------------------------------------------------------
/** Writes an integer in decimal (signed or unsigned after its static type) or a string, then a newline. */
export function print(x: number | string): void {
  process.stdout.write(String(x) + "\n");
}
/** Writes without a newline. */
export function write(x: number | string): void {
  process.stdout.write(String(x));
}
/** Writes an integer as 8 hexadecimal digits (no prefix, no newline). */
export function writeHex(x: number): void {
  process.stdout.write((x >>> 0).toString(16).padStart(8, "0"));
}
/** Stops the program: prints `panic: MESSAGE (in FUNCTION)` and exits with status 101. */
export function panic(message: string): never {
  const fn = new Error().stack?.split("\n")[2]?.trim().split(" ")[1] ?? "?";
  process.stderr.write(`panic: ${message} (in ${fn})\n`);
  process.exit(101);
}

// ---- structs --------------------------------------------------------------------------------------
// A struct is a class with typed fields, each with an initializer, and no methods:
//   class Point { x: i32 = 0; y: i32 = 0; }
// `new Point()` at module level is static storage; inside a function it lives in the frame.
/** An array of N structs, laid out contiguously: `const table = structArray(Point, 16)`. */
export function structArray<T>(ctor: new () => T, count: number): T[] {
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(new ctor());
  return out;
}
/** A struct laid over raw memory at `address` (device registers, page tables, packet headers). */
export function overlay<T>(_ctor: new () => T, _address: u32): T { return machineOnly("overlay"); }
/** The address of a struct, typed array or string (compiled code only). */
export function addressOf(_x: object | string): u32 { return machineOnly("addressOf"); }
/** The machine address of a function (compiled code only), e.g. for IDT gates. */
export function functionAddress(_f: Function): u32 { return machineOnly("functionAddress"); }
/** The high 32 bits of the unsigned 64-bit product a * b (the low ones are Math.imul's). */
export function mulHigh(a: u32, b: u32): u32 { return Number((BigInt(a >>> 0) * BigInt(b >>> 0)) >> 32n); }
/** The size in bytes of a struct type. */
export function sizeOf<T>(_ctor: new () => T): u32 { return machineOnly("sizeOf"); }

// ---- machine intrinsics (compiled code only) -------------------------------------------------------
export function inb(_port: u16): u8 { return machineOnly("inb"); }
export function inw(_port: u16): u16 { return machineOnly("inw"); }
export function inl(_port: u16): u32 { return machineOnly("inl"); }
export function outb(_port: u16, _value: u8): void { machineOnly("outb"); }
export function outw(_port: u16, _value: u16): void { machineOnly("outw"); }
export function outl(_port: u16, _value: u32): void { machineOnly("outl"); }
export function cli(): void { machineOnly("cli"); }
export function sti(): void { machineOnly("sti"); }
export function hlt(): void { machineOnly("hlt"); }
export function pause(): void { machineOnly("pause"); }
/** Low 32 bits of the time-stamp counter. */
export function rdtsc(): u32 { return machineOnly("rdtsc"); }
/** High 32 bits of the time-stamp counter (read after rdtsc). */
export function rdtscHigh(): u32 { return machineOnly("rdtscHigh"); }
export function readCr0(): u32 { return machineOnly("readCr0"); }
export function writeCr0(_v: u32): void { machineOnly("writeCr0"); }
export function readCr2(): u32 { return machineOnly("readCr2"); }
export function readCr3(): u32 { return machineOnly("readCr3"); }
export function writeCr3(_v: u32): void { machineOnly("writeCr3"); }
export function readCr4(): u32 { return machineOnly("readCr4"); }
export function writeCr4(_v: u32): void { machineOnly("writeCr4"); }
/** lgdt/lidt take the address of a 6-byte pseudo-descriptor (u16 limit, u32 base). */
export function lgdt(_descriptorAddress: u32): void { machineOnly("lgdt"); }
export function lidt(_descriptorAddress: u32): void { machineOnly("lidt"); }
export function ltr(_selector: u16): void { machineOnly("ltr"); }
export function invlpg(_address: u32): void { machineOnly("invlpg"); }
export function load8(_address: u32): u8 { return machineOnly("load8"); }
export function load16(_address: u32): u16 { return machineOnly("load16"); }
export function load32(_address: u32): u32 { return machineOnly("load32"); }
export function store8(_address: u32, _value: u8): void { machineOnly("store8"); }
export function store16(_address: u32, _value: u16): void { machineOnly("store16"); }
export function store32(_address: u32, _value: u32): void { machineOnly("store32"); }
/** Copies `length` bytes from `source` to `destination` (regions may overlap, like memmove). */
export function memoryCopy(_destination: u32, _source: u32, _length: u32): void { machineOnly("memoryCopy"); }
/** Sets `length` bytes at `destination` to `value`. */
export function memoryFill(_destination: u32, _value: u8, _length: u32): void { machineOnly("memoryFill"); }
/** ebp of the calling function: [ebp] holds its caller's ebp, [ebp + 4] its return address. */
export function readFramePointer(): u32 { return machineOnly("readFramePointer"); }
export function readFlags(): u32 { return machineOnly("readFlags"); }
/** Executes ud2: raises the invalid-opcode exception (#UD). */
export function invalidOpcode(): void { machineOnly("invalidOpcode"); }
/** Loads ds, es, fs, gs, ss with `dataSelector` and cs with `codeSelector` (a far return). */
export function loadSegments(_codeSelector: u16, _dataSelector: u16): void { machineOnly("loadSegments"); }
/** Loads the LDT register with `selector` (0: no LDT; SDM Vol. 3A §3.5.1). */
export function lldt(_selector: u16): void { machineOnly("lldt"); }
/** Clears CR0.TS: x87 instructions stop raising #NM (SDM Vol. 3A §2.5). */
export function clts(): void { machineOnly("clts"); }
/** fnsave: stores the 108-byte x87 state at `address`, then reinitializes the FPU (SDM Vol. 1 §8.1.10). */
export function fnsave(_address: u32): void { machineOnly("fnsave"); }
/** frstor: loads the 108-byte x87 state at `address` (the layout fnsave writes). */
export function frstor(_address: u32): void { machineOnly("frstor"); }
/** cpuid with eax = leaf, ecx = subleaf: writes eax, ebx, ecx, edx to the 16 bytes at `out`. */
export function cpuid(_leaf: u32, _subleaf: u32, _out: u32): void { machineOnly("cpuid"); }
/**
 * The CRC32C register after the four bytes of `word` (SSE4.2's `crc32`: no inversions; check CPUID.1:ECX
 * bit 20 first, the instruction is #UD without it).
 */
export function crc32Word(_crc: u32, _word: u32): u32 { return machineOnly("crc32Word"); }
/** rdmsr: the low half (eax) of model-specific register `index` (SDM Vol. 4); #GP if it does not exist. */
export function readMsr(_index: u32): u32 { return machineOnly("readMsr"); }
/** rdmsr: the high half (edx) of model-specific register `index`. */
export function readMsrHigh(_index: u32): u32 { return machineOnly("readMsrHigh"); }
/** wrmsr: model-specific register `index` <- high:low (edx:eax); #GP on a reserved bit or a missing MSR. */
export function writeMsr(_index: u32, _low: u32, _high: u32): void { machineOnly("writeMsr"); }
/** Unsigned division with no zero check: a zero divisor raises the divide-error exception (#DE). */
export function divideUnchecked(_dividend: u32, _divisor: u32): u32 { return machineOnly("divideUnchecked"); }

/**
 * A hypercall of the Denali virtual architecture (docs/virtual-architecture.md): `int 0x80` with
 * eax = number, ebx = a, ecx = b, edx = c, esi = d; returns eax. Guests only.
 */
export function hypercall(_number: u32, _a: u32, _b: u32, _c: u32, _d: u32): i32 { return machineOnly("hypercall"); }

// ---- contexts: the building block of threads (compiled code and the interpreter only) ----------------
/**
 * Suspends the running context, storing its handle (a word; on x86 its stack pointer) at `saveAt`,
 * and resumes the context whose handle is `resume` (one saved by contextSwitch or made by
 * contextCreate). Returns when some context switches back to the saved handle. Callee-saved registers
 * survive; the compiler treats it as a call.
 */
export function contextSwitch(_saveAt: u32, _resume: u32): void { machineOnly("contextSwitch"); }
/**
 * A handle that, when resumed, calls `entry(arg)` on the stack `stackBase .. stackBase + stackSize`
 * (writes its first words at the top). `entry` (a functionAddress) must never return.
 */
export function contextCreate(_stackBase: u32, _stackSize: u32, _entry: u32, _arg: u32): u32 { return machineOnly("contextCreate"); }

// ---- linking and interrupts (compiled code only) ----------------------------------------------------
/** Addresses the linker fixes: the image's bounds, the boot stack, the embedded symbol table. */
export function linkerAddress(_name: "imageStart" | "imageEnd" | "stackBottom" | "stackTop" | "symbolTable"): u32 { return machineOnly("linkerAddress"); }
/** The string whose bytes start at `address` (its u32 length stored just before), e.g. a symbol name. */
export function stringAt(_address: u32): string { return machineOnly("stringAt"); }
/**
 * The address of a compiler-generated entry stub for `vector` (a constant): it saves every register,
 * calls `handler(frameAddress)` and returns with iret (see docs/calling-convention.md for the frame).
 * A handler returning u32 resumes the frame at that address instead (a context switch).
 */
export function interruptEntry(_handler: (frame: u32) => void | u32, _vector: number): u32 { return machineOnly("interruptEntry"); }
/**
 * The address of the compiler-generated `sysenter` entry stub (for IA32_SYSENTER_EIP): it builds the frame
 * a hypercall by `int 0x80` from ring 3 would have (the registers of abi/hypercalls.ts's sequence put where
 * `int 0x80` has them, the vector SYSENTER_FRAME_VECTOR), then does what interruptEntry's stub does.
 */
export function sysenterEntry(_handler: (frame: u32) => void | u32): u32 { return machineOnly("sysenterEntry"); }
/** The address of a table of 256 u32 entry-stub addresses, one per vector, all calling `handler`. */
export function interruptEntryTable(_handler: (frame: u32) => void | u32): u32 { return machineOnly("interruptEntryTable"); }

/** Ends the program (or the machine, in QEMU via isa-debug-exit) with `status`. */
export function exit(status: i32): never { process.exit(status & 255); }

function machineOnly(name: string): never {
  throw new Error(`${name}() is a machine intrinsic: it exists only in compiled code (--target interp or qemu)`);
}
