// Contract: calls, frames, memory access, bulk memory intrinsics, machine intrinsics and traps behave as ir.ts says,
// checked by booting in QEMU.

import test from "ava";
import type { BinaryOp, DataSymbol, Function as IrFunction } from "../../compiler/ir.ts";
import { OPS, TRAP_BOUNDS, crc32cWord } from "../../compiler/ir.ts";
import { compileAndBoot, programModule, testFunction, putHex, puts } from "./helpers.ts";

const hex = (x: number) => (x >>> 0).toString(16).padStart(8, "0");
const lines = (xs: number[]) => xs.map((x) => hex(x) + "\n").join("");
const bss = (name: string, size: number, align = 16): DataSymbol => ({ name, section: "bss", align, size, relocations: [] });

// ---- calls ---------------------------------------------------------------------------------------

/** sum8(a..h) = ((a*3 + b)*3 + c)*3 ... : every argument lands in a different power of 3, so order matters. */
function sum8(): IrFunction {
  const f = testFunction("sum8", 8, true);
  let r = f.param(0);
  for (let i = 1; i < 8; i++) r = f.binary("add", f.binary("mul", r, f.constant(3)), f.param(i));
  f.ret(r);
  return f.finish();
}
const sum8Model = (xs: number[]) => xs.reduce((r, x) => (Math.imul(r, 3) + x) | 0);

function fib(): IrFunction {
  const f = testFunction("fib", 1, true);
  const small = f.newBlock(), big = f.newBlock();
  f.branch(f.binary("ltu", f.param(0), f.constant(2)), small, big);
  f.switchTo(small); f.ret(f.param(0));
  f.switchTo(big);
  const a = f.call("fib", [f.binary("sub", f.param(0), f.constant(1))]);
  const b = f.call("fib", [f.binary("sub", f.param(0), f.constant(2))]);
  f.ret(f.binary("add", a, b));
  return f.finish();
}

function square(): IrFunction {
  const f = testFunction("square", 1, true);
  f.ret(f.binary("mul", f.param(0), f.param(0)));
  return f.finish();
}

test("calls: 8 arguments in order, recursion, indirect calls", async (t) => {
  const args = [1, -2, 3, 0x7fffffff, 5, -6, 7, 0x100];
  const r = await compileAndBoot(programModule((main) => {
    const regs = args.map((a) => main.constant(a));
    putHex(main, main.call("sum8", regs));
    putHex(main, main.call("fib", [main.constant(20)]));
    putHex(main, main.callIndirect(main.functionAddress("square"), [main.constant(-12)]));
    putHex(main, main.callIndirect(main.functionAddress("sum8"), [...regs].reverse()));
    // through a function table in .rodata (relocations of kind "function")
    const table = main.globalAddress("table");
    putHex(main, main.callIndirect(main.load(4, false, table, 4), [main.constant(9)]));
    putHex(main, main.callIndirect(main.load(4, false, table, 0), [main.constant(10)]));
  }, [sum8(), fib(), square()], [
    { name: "table", section: "rodata", align: 4, size: 8, relocations: [{ offset: 0, symbol: "fib", kind: "function" }, { offset: 4, symbol: "square", kind: "function" }], bytes: new Uint8Array(8) },
  ]), "calls");
  t.is(r.exitCode, 0);
  t.is(r.serial, lines([sum8Model(args), 6765, 144, sum8Model([...args].reverse()), 81, 55]));
});

// ---- frame slots ---------------------------------------------------------------------------------

/**
 * nest(n): has slots of several sizes and alignments; checks each slot's alignment, stores n into
 * them, recurses, then reads them back: returns (sum of n over the recursion) | misalignment flags.
 */
function nest(): IrFunction {
  const f = testFunction("nest", 1, true);
  const specs = [[1, 1], [16, 16], [8, 8], [3, 2], [4, 4], [12, 16]];
  const slots = specs.map(([size, align], k) => f.newSlot(size, align, `slot${k}`));
  let misaligned = f.constant(0);
  const addrs = slots.map((s, k) => {
    const a = f.slotAddress(s);
    misaligned = f.binary("or", misaligned, f.binary("and", a, f.constant(specs[k][1] - 1)));
    f.store(1, a, f.param(0), specs[k][0] - 1); // last byte of each slot
    f.store(1, a, f.param(0), 0);               // first byte of each slot
    return a;
  });
  const base = f.newBlock(), deeper = f.newBlock();
  f.branch(f.binary("eq", f.param(0), f.constant(0)), base, deeper);
  f.switchTo(base); f.ret(f.binary("shl", misaligned, f.constant(24)));
  f.switchTo(deeper);
  let total = f.call("nest", [f.binary("sub", f.param(0), f.constant(1))]);
  addrs.forEach((a, k) => {
    total = f.binary("add", total, f.load(1, false, a, 0));
    total = f.binary("add", total, f.load(1, false, a, specs[k][0] - 1));
  });
  f.ret(f.binary("or", total, f.binary("shl", misaligned, f.constant(24))));
  return f.finish();
}

test("frame slots: aligned, distinct per activation, preserved across calls", async (t) => {
  const r = await compileAndBoot(programModule((main) => {
    putHex(main, main.call("nest", [main.constant(10)]));
    // a different recursion depth: the alignment must hold at every depth
    putHex(main, main.call("nest", [main.constant(3)]));
  }, [nest()]), "slots");
  t.is(r.exitCode, 0);
  const model = (n: number) => 12 * (n * (n + 1)) / 2; // 6 slots x 2 bytes x n per level
  t.is(r.serial, lines([model(10), model(3)]));
});

// ---- loads and stores ----------------------------------------------------------------------------

test("loads and stores of each width, with sign and zero extension", async (t) => {
  const mem = new DataView(new ArrayBuffer(16));
  const expected: number[] = [];
  const r = await compileAndBoot(programModule((main) => {
    const buf = main.globalAddress("buf");
    main.store(4, buf, main.constant(0x80ff7f01 | 0));
    mem.setInt32(0, 0x80ff7f01 | 0, true);
    main.store(1, buf, main.constant(0x1234), 5);
    mem.setUint8(5, 0x34);
    main.store(2, main.binary("add", buf, main.constant(6)), main.constant(0xabcdef));
    mem.setUint16(6, 0xcdef, true);
    main.store(4, buf, main.constant(-2), 8);
    mem.setInt32(8, -2, true);
    for (let off = 0; off < 12; off++) {
      putHex(main, main.load(1, true, buf, off)); expected.push(mem.getInt8(off));
      putHex(main, main.load(1, false, buf, off)); expected.push(mem.getUint8(off));
    }
    for (let off = 0; off < 11; off++) {
      putHex(main, main.load(2, true, buf, off)); expected.push(mem.getInt16(off, true));
      putHex(main, main.load(2, false, buf, off)); expected.push(mem.getUint16(off, true));
    }
    for (let off = 0; off < 9; off++) {
      putHex(main, main.load(4, false, buf, off)); expected.push(mem.getInt32(off, true));
    }
    // negative offsets from a pointer past the start
    putHex(main, main.load(2, true, main.binary("add", buf, main.constant(8)), -2));
    expected.push(mem.getInt16(6, true));
  }, [], [bss("buf", 16)]), "loadstore");
  t.is(r.exitCode, 0);
  t.is(r.serial, lines(expected));
});

// ---- memoryCopy / memoryFill ---------------------------------------------------------------------

test("memoryCopy has memmove semantics in both directions; memoryFill stores the low byte", async (t) => {
  const cases: { dst: number; src: number; len: number }[] = [
    { dst: 4, src: 0, len: 16 },  // dst > src, overlapping: backward copy
    { dst: 0, src: 4, len: 16 },  // dst < src, overlapping: forward copy (fails if DF was left set)
    { dst: 20, src: 0, len: 8 },  // dst > src, disjoint
    { dst: 1, src: 0, len: 31 },  // overlapping by all but one byte
    { dst: 5, src: 5, len: 10 },  // same place
    { dst: 3, src: 0, len: 0 },   // nothing
  ];
  const fills = [{ dst: 3, value: 0x1ab, len: 10 }, { dst: 0, value: -1, len: 32 }, { dst: 7, value: 0, len: 0 }];
  const expected: number[] = [];
  const model = new Uint8Array(32);
  const init = () => { for (let i = 0; i < 32; i++) model[i] = 0xa0 + i; };
  const snapshot = () => { const v = new DataView(model.buffer); for (let w = 0; w < 8; w++) expected.push(v.getInt32(4 * w, true)); };
  const r = await compileAndBoot(programModule((main) => {
    const buf = main.globalAddress("buf");
    const at = (k: number) => main.binary("add", buf, main.constant(k));
    const reset = () => { for (let i = 0; i < 32; i++) main.store(1, buf, main.constant(0xa0 + i), i); init(); };
    const dump = () => { for (let w = 0; w < 8; w++) putHex(main, main.load(4, false, buf, 4 * w)); snapshot(); };
    for (const c of cases) {
      reset();
      main.intrinsic("memoryCopy", [at(c.dst), at(c.src), main.constant(c.len)]);
      model.copyWithin(c.dst, c.src, c.src + c.len);
      dump();
    }
    reset();
    for (const f of fills) {
      main.intrinsic("memoryFill", [at(f.dst), main.constant(f.value), main.constant(f.len)]);
      model.fill(f.value & 0xff, f.dst, f.dst + f.len);
      dump();
    }
  }, [], [bss("buf", 32)]), "memory");
  t.is(r.exitCode, 0);
  t.is(r.serial, lines(expected));
});

// ---- machine intrinsics --------------------------------------------------------------------------

test("machine intrinsics: control registers, rdtsc, ports, lgdt/lidt/ltr/invlpg", async (t) => {
  // GDT: null, flat code, flat data, flat code, flat data, TSS (base 0, limit 0x67, type 9 = available 32-bit TSS)
  const gdt = new Uint8Array([
    0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0,
    0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0,
    0x67, 0, 0, 0, 0, 0x89, 0, 0,
  ]);
  const r = await compileAndBoot(programModule((main) => {
    putHex(main, main.binary("and", main.intrinsic("readCr0", []), main.constant(1))); // protected mode
    main.intrinsic("writeCr3", [main.constant(0x5000)]);
    putHex(main, main.intrinsic("readCr3", []));
    main.intrinsic("writeCr4", [main.intrinsic("readCr4", [])]);
    main.intrinsic("writeCr0", [main.intrinsic("readCr0", [])]);
    main.intrinsic("readCr2", []);
    const t0 = main.intrinsic("rdtsc", []);
    main.intrinsic("pause", []);
    const t1 = main.intrinsic("rdtsc", []);
    putHex(main, main.binary("gtu", t1, t0));
    main.intrinsic("rdtscHigh", []);
    // PCI configuration space of the host bridge (bus 0, device 0, function 0, register 0): i440FX 8086:1237
    main.intrinsic("outl", [main.constant(0xcf8), main.constant(0x80000000 | 0)]);
    putHex(main, main.intrinsic("inl", [main.constant(0xcfc)]));
    putHex(main, main.intrinsic("inw", [main.constant(0xcfc)]));
    main.intrinsic("outw", [main.constant(0x80), main.constant(0x1234)]); // POST port: harmless
    main.intrinsic("cli", []);
    main.intrinsic("lgdt", [main.globalAddress("gdtr")]);
    main.intrinsic("lidt", [main.globalAddress("idtr")]);
    main.intrinsic("ltr", [main.constant(0x28)]);
    putHex(main, main.load(1, false, main.globalAddress("gdt"), 0x28 + 5)); // ltr marks the TSS busy: type 9 -> 11
    main.intrinsic("invlpg", [main.constant(0)]);
    // exit through a 32-bit port write
    main.intrinsic("outl", [main.constant(0xf4), main.constant(0x33)]);
  }, [], [
    { name: "gdt", section: "data", align: 8, size: gdt.length, bytes: gdt, relocations: [] },
    // pseudo-descriptors: 2-byte limit then 4-byte base (a relocation at an unaligned offset)
    { name: "gdtr", section: "data", align: 4, size: 6, bytes: new Uint8Array([gdt.length - 1, 0]), relocations: [{ offset: 2, symbol: "gdt", kind: "data" }] },
    { name: "idtr", section: "rodata", align: 4, size: 6, bytes: new Uint8Array(6), relocations: [] },
  ]), "intrinsics");
  t.is(r.serial, lines([1, 0x5000, 1, 0x12378086, 0x8086, 0x8b]));
  t.is(r.exitCode, 0x33);
});

test("isolation intrinsics: cpuid, lldt 0, clts, fnsave/frstor round trip and reinitialization", async (t) => {
  // x87 image (SDM Vol. 1 Figure 8-9, 32-bit protected mode): control word 0x027f (53-bit precision), tags empty
  const image = new Uint8Array(108);
  image.set([0x7f, 0x02], 0);
  image.set([0xff, 0xff], 8);
  const r = await compileAndBoot(programModule((main) => {
    const out = main.globalAddress("out");
    main.intrinsic("cpuid", [main.constant(0), main.constant(0), out]);
    putHex(main, main.binary("geu", main.load(4, false, out, 0), main.constant(1)));   // a basic leaf 1 exists
    putHex(main, main.load(4, false, out, 4));                                      // the vendor's first 4 bytes
    main.intrinsic("lldt", [main.constant(0)]);                                       // a null LDT: no fault
    main.intrinsic("writeCr0", [main.binary("or", main.intrinsic("readCr0", []), main.constant(8))]);
    putHex(main, main.binary("and", main.intrinsic("readCr0", []), main.constant(8)));  // TS set
    main.intrinsic("clts", []);
    putHex(main, main.binary("and", main.intrinsic("readCr0", []), main.constant(8)));  // TS clear
    main.intrinsic("frstor", [main.globalAddress("image")]);
    main.intrinsic("fnsave", [main.globalAddress("saved")]);
    putHex(main, main.load(2, false, main.globalAddress("saved"), 0));             // the control word loaded
    putHex(main, main.load(2, false, main.globalAddress("saved"), 8));             // the tags loaded
    main.intrinsic("fnsave", [main.globalAddress("saved")]);
    putHex(main, main.load(2, false, main.globalAddress("saved"), 0));             // fnsave reinitialized: 0x037f
  }, [], [
    bss("out", 16),
    bss("saved", 108),
    { name: "image", section: "data", align: 4, size: image.length, bytes: image, relocations: [] },
  ]), "isolation-intrinsics");
  t.is(r.serial, lines([1, 0x756e6547, 8, 0, 0x027f, 0xffff, 0x037f]));   // "Genu": QEMU's default CPU
  t.is(r.exitCode, 0);
});

test("crc32Word is SSE4.2's crc32 (QEMU's CPU with +sse4.2): the IR's definition, words in registers and immediates",
  async (t) => {
  const words = [0, 1, 0xffffffff, 0x80000000, 0x12345678, 0xdeadbeef, 0x9e3779b9, 0x00ff00ff];
  const data = new Uint8Array(4 * words.length);
  words.forEach((w, i) => new DataView(data.buffer).setUint32(4 * i, w, true));
  const r = await compileAndBoot(programModule((main) => {
    const base = main.globalAddress("words");
    let c = main.constant(-1);
    for (let i = 0; i < words.length; i++) {
      c = main.intrinsic("crc32Word", [c, main.load(4, false, base, 4 * i)]);     // the word in a register
      putHex(main, c);
    }
    putHex(main, main.intrinsic("crc32Word", [c, main.constant(0x0badf00d)]));    // an immediate word
    putHex(main, main.intrinsic("crc32Word", [main.constant(7), c]));             // a constant register
  }, [], [{ name: "words", section: "data", align: 4, size: data.length, bytes: data, relocations: [] }]), "crc32");
  const expected: number[] = [];
  let c = -1;
  for (const w of words) expected.push(c = crc32cWord(c, w | 0));
  expected.push(crc32cWord(c, 0x0badf00d), crc32cWord(7, c));
  t.is(r.serial, lines(expected));
  t.is(r.exitCode, 0);
});

test("readMsr, readMsrHigh, writeMsr: IA32_APIC_BASE as QEMU resets it; IA32_SYSENTER_CS written and read back",
  async (t) => {
  const r = await compileAndBoot(programModule((main) => {
    putHex(main, main.intrinsic("readMsr", [main.constant(0x1b)]));        // base 0xfee00000, enabled, BSP
    putHex(main, main.intrinsic("readMsrHigh", [main.constant(0x1b)]));
    const index = main.constant(0x174), value = main.constant(0x1234);
    main.intrinsic("writeMsr", [index, value, main.constant(0)]);
    putHex(main, main.intrinsic("readMsr", [index]));
    const low = main.intrinsic("readMsr", [index]);
    main.intrinsic("writeMsr", [index, main.binary("add", low, main.constant(8)), main.constant(0)]);
    putHex(main, main.intrinsic("readMsr", [index]));
  }, [], []), "msr");
  t.is(r.serial, lines([0xfee00900, 0, 0x1234, 0x123c]));
  t.is(r.exitCode, 0);
});

// ---- traps ---------------------------------------------------------------------------------------

// every binary op that may trap (the divisions), on a zero divisor
const TRAPPING = Object.entries(OPS).filter(([, p]) => p.form === "binary" && p.mayTrap).map(([k]) => k as BinaryOp);
for (const op of TRAPPING) {
  test(`${op} by zero calls the trap handler with TRAP_DIVIDE_BY_ZERO`, async (t) => {
    const r = await compileAndBoot(programModule((main) => {
      puts(main, "before\n");
      putHex(main, main.binary(op, main.constant(7), main.constant(0)));
      puts(main, "after\n");
    }), `trap-${op}`);
    t.is(r.serial, "before\nTRAP 1\n");
    t.is(r.exitCode, 0x71);
  });
}

test("INT_MIN / -1 does not fault (divs wraps, rems gives 0)", async (t) => {
  const r = await compileAndBoot(programModule((main) => {
    const min = main.constant(-0x80000000), m1 = main.constant(-1);
    putHex(main, main.binary("divs", min, m1));
    putHex(main, main.binary("rems", min, m1));
  }), "intmin");
  t.is(r.exitCode, 0);
  t.is(r.serial, "80000000\n00000000\n");
});

test("the trap instruction calls the trap handler with its kind", async (t) => {
  const r = await compileAndBoot(programModule((main) => {
    main.trap(TRAP_BOUNDS);
    main.unreachable();
    main.switchTo(main.newBlock()); // programModule appends its exit to a fresh, unreachable block
  }), "trap-instr");
  t.is(r.serial, "TRAP 2\n");
  t.is(r.exitCode, 0x72);
});
