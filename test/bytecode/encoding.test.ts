// The DNBC encoding: exact round trips of hand-built modules, and every kind of bad input rejected.

import test from "ava";
import type { Module } from "../../compiler/ir.ts";
import { decodeModule } from "../../compiler/bytecode/decode.ts";
import { encodeModule } from "../../compiler/bytecode/encode.ts";
import { BINARY_OPS, BytecodeFormatError, FORMAT_VERSION, INTRINSIC_NAMES } from "../../compiler/bytecode/format.ts";
import { INTRINSICS } from "../../compiler/ir.ts";
import * as abi from "../../abi/bytecode.ts";
import { FunctionBuilder } from "../../compiler/builder.ts";
import { makeModule, mainModule, report } from "./helpers.ts";

/** A module that uses every instruction, terminator, optional field and data feature. */
function everythingModule(): Module {
  const callee = new FunctionBuilder("callee", 2, true);
  callee.ret(callee.binary("add", callee.param(0), callee.param(1)));
  const sink = new FunctionBuilder("sink", 1, false);
  sink.ret();

  const f = new FunctionBuilder("main", 2, false);
  const s0 = f.newSlot(12, 4, "array");
  f.newSlot(1, 1, "byte");
  f.newSlot(64, 16, "struct");
  const values = [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, -8193, 0x7fffffff, -0x80000000, 0x12345678];
  for (const value of values) f.constant(value);
  const a = f.constant(7), b = f.constant(-7);
  f.copy(f.newReg(), a);
  for (const kind of BINARY_OPS) f.binary(kind, a, b);
  f.unary("neg", a);
  f.unary("not", b);
  f.select(a, a, b);
  const p = f.slotAddress(s0);
  for (const width of [1, 2, 4] as const) {
    f.load(width, true, p, -0x80000000);
    f.load(width, false, p, 0x7fffffff);
    f.store(width, p, a, -1);
  }
  f.globalAddress("table");
  const fp = f.functionAddress("callee");
  f.call("callee", [a, b]);
  f.callVoid("sink", [a]);
  f.callIndirect(fp, [a, b]);
  f.callIndirectVoid(fp, []);
  for (const name of INTRINSIC_NAMES) {
    const info = INTRINSICS[name];
    const args = Array.from({ length: info.args }, () => a);
    f.intrinsic(name, args);                                                // its result, when it has one
    if (info.result) f.emit({ op: "intrinsic", dst: null, name, args }); // the result unused
  }
  const yes = f.newBlock(), no = f.newBlock(), last = f.newBlock();
  f.branch(a, yes, no);
  f.switchTo(yes); f.trap(0);
  f.trap(1);
  f.trap(2);
  f.jump(last);
  f.switchTo(no); f.jump(last);
  f.switchTo(last); f.unreachable();
  const main = f.finish();
  main.loc = { file: "kernel-src/main.ts", line: 12, column: 3 };
  main.blocks[1].loc = { file: "kernel-src/main.ts", line: 40, column: 5 };
  main.blocks[2].loc = { file: "kernel-src/ünïcode.ts", line: 0, column: 0 };

  return makeModule([main, callee.finish(), sink.finish()], [
    { name: "greeting", section: "rodata", align: 1, size: 5, bytes: new Uint8Array([104, 101, 108, 108, 111]), relocations: [] },
    {
      name: "table", section: "data", align: 16, size: 12, bytes: new Uint8Array(12),
      relocations: [{ offset: 0, symbol: "greeting", kind: "data" }, { offset: 8, symbol: "callee", kind: "function" }],
    },
    { name: "zeros", section: "bss", align: 4096, size: 0x10000, relocations: [{ offset: 4, symbol: "table", kind: "data" }] },
    { name: "empty", section: "data", align: 4, size: 0, relocations: [] },
  ]);
}

test("round trip: a module using every instruction decodes to a deep-equal module", (t) => {
  const module = everythingModule();
  const bytes = encodeModule(module);
  const decoded = decodeModule(bytes);
  t.deepEqual(decoded, module);
  t.deepEqual(encodeModule(decoded), bytes, "re-encoding gives the same bytes");
});

test("round trip: header is DNBC and the format version", (t) => {
  const bytes = encodeModule(everythingModule());
  t.is(new TextDecoder().decode(bytes.subarray(0, 4)), "DNBC");
  t.is(bytes[4] | (bytes[5] << 8), FORMAT_VERSION);
  t.is(bytes[6], 1, "the string table comes first");
});

test("round trip: a minimal module and one with a Buffer as input", (t) => {
  const module = mainModule(() => {});
  const bytes = encodeModule(module);
  t.deepEqual(decodeModule(bytes), module);
  t.deepEqual(decodeModule(Buffer.from(bytes)), module);
});

test("round trip: a name that starts with U+FEFF keeps it (not read as a byte order mark)", (t) => {
  const f = new FunctionBuilder("\uFEFFmain", 2, false);
  f.ret();
  const module = makeModule([f.finish(), new FunctionBuilder("main", 2, false).finish()]);
  module.functions[1].blocks[0].term = { op: "return", value: null };
  t.deepEqual(decodeModule(encodeModule(module)).functions.map((g) => g.name), ["\uFEFFmain", "main", "__trap"]);
});

test("constants at every LEB128 length boundary survive", (t) => {
  const values: number[] = [];
  for (let bits = 0; bits < 32; bits++) values.push(2 ** bits - 1, 2 ** bits, -(2 ** bits), -(2 ** bits) - 1);
  const f = new FunctionBuilder("main", 0, false);
  for (const value of values) f.constant(value);
  f.ret();
  const module = makeModule([f.finish()]);
  t.deepEqual(decodeModule(encodeModule(module)), module);
});

const rejects = (t: import("ava").ExecutionContext, bytes: Uint8Array, message: RegExp): void => {
  const error = t.throws(() => decodeModule(bytes), { instanceOf: BytecodeFormatError });
  t.regex(error!.message, message);
};

test("bad magic is rejected", (t) => {
  const bytes = encodeModule(everythingModule());
  bytes[0] = 0x7f;
  rejects(t, bytes, /bad magic/);
  rejects(t, new Uint8Array([0x44, 0x4e]), /bad magic/);
  rejects(t, new Uint8Array(0), /bad magic/);
});

test("an unknown format version is rejected", (t) => {
  const bytes = encodeModule(everythingModule());
  bytes[4] = FORMAT_VERSION + 1;
  rejects(t, bytes, new RegExp(`unsupported DNBC format version ${FORMAT_VERSION + 1}`));
});

test("version 2 carries interrupt entries; version 1 bytes (without them) still decode", (t) => {
  const base = everythingModule();
  const handler = new FunctionBuilder("onInterrupt", 1, false);
  handler.ret();
  const module = {
    ...base, functions: [...base.functions, handler.finish()],
    interruptEntries: [{ name: "__interrupt_14_onInterrupt", vector: 14, handler: "onInterrupt" }],
  };
  t.deepEqual(decodeModule(encodeModule(module)).interruptEntries, module.interruptEntries);
  // A version-1 module: same bytes minus the trailing entry count of the module section.
  const plain = encodeModule(base);
  const v1 = plain.slice(0, plain.length - 1);
  v1[4] = 1;
  // the module section ends the file: id, length, entry, trapHandler (one byte each here)
  t.is(v1[v1.length - 3], 3);
  v1[v1.length - 3] = 2;
  t.deepEqual(decodeModule(v1).functions, base.functions);
});

test("every truncation of a module is rejected cleanly", (t) => {
  const bytes = encodeModule(everythingModule());
  for (let length = 0; length < bytes.length; length++) {
    t.throws(() => decodeModule(bytes.subarray(0, length)), { instanceOf: BytecodeFormatError }, `length ${length}`);
  }
});

test("trailing bytes are rejected", (t) => {
  const bytes = encodeModule(mainModule(() => {}));
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  rejects(t, longer, /trailing bytes/);
});

test("random corruption never escapes as anything but BytecodeFormatError", (t) => {
  const original = encodeModule(everythingModule());
  let seed = 12345;
  const random = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  let rejected = 0;
  for (let trial = 0; trial < 2000; trial++) {
    const bytes = original.slice();
    bytes[6 + random(bytes.length - 6)] = random(256);
    try {
      decodeModule(bytes);
    } catch (e) {
      t.true(e instanceof BytecodeFormatError, String(e));
      rejected++;
    }
  }
  t.true(rejected > 100);
});

/** Encodes without the check, so that the decoder's verifier meets the problem. */
const unchecked = (module: Module): Uint8Array => encodeModule(module, { verify: false });

test("verifier: a vreg out of range is rejected, naming the place", (t) => {
  const module = mainModule((f) => report(f, f.constant(1)));
  module.functions[0].blocks[0].instrs.push({ op: "copy", dst: 0, src: 99 });
  t.throws(() => encodeModule(module), { instanceOf: BytecodeFormatError });
  rejects(t, unchecked(module), /function main, block 0, instruction \d+ \(copy\): src v99 is out of range/);
});

test("verifier: a block target out of range is rejected", (t) => {
  const f = new FunctionBuilder("main", 0, false);
  f.terminate({ op: "jump", target: 5 });
  rejects(t, unchecked(makeModule([f.finish()])), /target block 5 is out of range/);
});

test("verifier: a slot out of range is rejected", (t) => {
  const f = new FunctionBuilder("main", 0, false);
  f.slotAddress(0);
  f.ret();
  rejects(t, unchecked(makeModule([f.finish()])), /slot 0 is out of range \(0 slots\)/);
});

test("verifier: unknown callee, wrong argument count, missing entry, bad relocation", (t) => {
  const f = new FunctionBuilder("main", 0, false);
  f.callVoid("nowhere", []);
  f.ret();
  rejects(t, unchecked(makeModule([f.finish()])), /unknown function nowhere/);

  const g = new FunctionBuilder("main", 0, false);
  g.callVoid("main", [g.constant(1)]);
  g.ret();
  rejects(t, unchecked(makeModule([g.finish()])), /main takes 0 arguments, given 1/);

  const module = mainModule(() => {});
  module.entry = "start";
  rejects(t, unchecked(module), /entry function start is not defined/);

  const withData = mainModule(() => {}, [], [
    { name: "d", section: "data", align: 4, size: 4, bytes: new Uint8Array(4), relocations: [{ offset: 2, symbol: "d", kind: "data" }] },
  ]);
  rejects(t, unchecked(withData), /relocation at offset 2 does not fit in 4 bytes/);
});

test("verifier: return kinds and intrinsic arity", (t) => {
  const f = new FunctionBuilder("main", 0, true);
  f.ret();
  rejects(t, unchecked(makeModule([f.finish()])), /main must return a value/);

  const g = new FunctionBuilder("main", 0, false);
  g.intrinsic("outb", [g.constant(1)]);
  g.ret();
  rejects(t, unchecked(makeModule([g.finish()])), /outb takes 2 arguments, given 1/);
});

test("the intrinsic numbers the kernel's interpreter names are INTRINSIC_NAMES' numbers", (t) => {
  const named: Record<string, number> = {
    pause: abi.INTRINSIC_PAUSE, rdtsc: abi.INTRINSIC_RDTSC, rdtscHigh: abi.INTRINSIC_RDTSC_HIGH,
    memoryCopy: abi.INTRINSIC_MEMORY_COPY, memoryFill: abi.INTRINSIC_MEMORY_FILL,
    invalidOpcode: abi.INTRINSIC_INVALID_OPCODE, divideUnchecked: abi.INTRINSIC_DIVIDE_UNCHECKED,
    hypercall: abi.INTRINSIC_HYPERCALL, contextSwitch: abi.INTRINSIC_CONTEXT_SWITCH,
    contextCreate: abi.INTRINSIC_CONTEXT_CREATE, crc32Word: abi.INTRINSIC_CRC32_WORD,
  };
  for (const [name, number] of Object.entries(named)) t.is(INTRINSIC_NAMES[number] as string, name, name);
});
