// Memory: loads and stores of each width, data symbols and relocations, frame slots, memoryCopy and
// memoryFill, and out-of-range accesses reported as interpreter errors.

import test from "ava";
import { Machine, DEFAULT_DATA_BASE, FUNCTION_ADDRESS_BASE } from "../../compiler/bytecode/interpreter.ts";
import { encodeModule } from "../../compiler/bytecode/encode.ts";
import { FunctionBuilder } from "../../compiler/builder.ts";
import { mainModule, run, report } from "./helpers.ts";

const SCRATCH = 0x00100000; // free memory below the data

test("stores and loads of each width, with sign and zero extension", (t) => {
  const result = run(mainModule((f) => {
    const p = f.constant(SCRATCH);
    f.store(4, p, f.constant(0x8081fe7f));       // bytes 7f fe 81 80
    report(f, f.load(1, true, p));             // 0x7f
    report(f, f.load(1, false, p, 1));         // 0xfe
    report(f, f.load(1, true, p, 1));          // -2
    report(f, f.load(2, false, p, 2));         // 0x8081
    report(f, f.load(2, true, p, 2));          // -32639
    report(f, f.load(2, true, p));             // 0xfe7f -> -385
    report(f, f.load(4, true, p));
    report(f, f.load(4, false, p));            // a 32-bit load reads the same either way
    f.store(1, p, f.constant(0x1234), 4);        // only the low byte is stored
    f.store(2, p, f.constant(-1), 5);            // low half
    report(f, f.load(4, false, p, 4));         // 00 ff ff 34 -> 0x00ffff34
    f.store(4, p, f.constant(0x11223344), 9);    // unaligned store
    report(f, f.load(4, false, p, 9));
    report(f, f.load(2, false, p, 10));        // unaligned half: 0x2233
    report(f, f.load(1, false, p, 12));        // 0x11: little-endian
    report(f, f.load(4, false, p, 8));         // byte 8 was never written: 00 44 33 22
    const q = f.constant(SCRATCH + 0x20);
    f.store(4, q, f.constant(0x01020304), -0x10); // negative offsets
    report(f, f.load(4, false, f.constant(SCRATCH + 0x10)));
  }));
  t.is(result.error, undefined);
  t.deepEqual(result.values, [
    0x7f, 0xfe, -2, 0x8081, -32639, -385, 0x8081fe7f | 0, 0x8081fe7f | 0,
    0x00ffff34, 0x11223344, 0x2233, 0x11, 0x22334400, 0x01020304,
  ]);
});

test("address arithmetic wraps modulo 2^32", (t) => {
  const result = run(mainModule((f) => {
    f.store(4, f.constant(SCRATCH), f.constant(77));
    report(f, f.load(4, true, f.constant(SCRATCH + 16), -16));
    report(f, f.load(4, true, f.constant(-1), SCRATCH + 1)); // 0xffffffff + SCRATCH + 1 wraps to SCRATCH
  }));
  t.deepEqual(result.values, [77, 77]);
});

test("data symbols: initial bytes, alignment, bss zeroed, data and function relocations", (t) => {
  const data = [
    { name: "bytes", section: "rodata" as const, align: 1, size: 3, bytes: new Uint8Array([1, 2, 3]), relocations: [] },
    {
      name: "table", section: "data" as const, align: 16, size: 12, bytes: new Uint8Array([0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]),
      relocations: [
        { offset: 0, symbol: "bytes", kind: "data" as const },
        { offset: 8, symbol: "twice", kind: "function" as const },
      ],
    },
    { name: "zeros", section: "bss" as const, align: 8, size: 64, relocations: [] },
  ];
  const twice = new FunctionBuilder("twice", 1, true);
  twice.ret(twice.binary("add", twice.param(0), twice.param(0)));
  const module = mainModule((f) => {
    const table = f.globalAddress("table");
    const bytes = f.load(4, false, table);          // relocated pointer to `bytes`
    report(f, f.load(1, false, bytes, 2));           // 3
    report(f, f.load(4, false, table, 4));           // 9, untouched by the relocations
    const fn = f.load(4, false, table, 8);          // relocated function pointer
    report(f, f.callIndirect(fn, [f.constant(21)]));    // 42
    report(f, f.binary("eq", fn, f.functionAddress("twice")));
    report(f, f.globalAddress("bytes"));
    report(f, table);
    report(f, f.globalAddress("zeros"));
    report(f, f.load(4, false, f.globalAddress("zeros"), 60));
  }, [twice.finish()], data);
  const result = run(module);
  t.is(result.error, undefined);
  t.deepEqual(result.values, [3, 9, 42, 1, DEFAULT_DATA_BASE, DEFAULT_DATA_BASE + 16, DEFAULT_DATA_BASE + 32, 0]);

  const machine = Machine.fromBytecode(encodeModule(module));
  t.is(machine.symbolAddress("table"), DEFAULT_DATA_BASE + 16);
  t.is(machine.functionAddress("main"), FUNCTION_ADDRESS_BASE);
  t.is(machine.functionAddress("twice"), FUNCTION_ADDRESS_BASE + 16);
});

test("frame slots: aligned, distinct per frame, and survive calls", (t) => {
  // fill(depth): a 16-byte slot aligned 16 holding depth; recurses, then reports its own slot.
  const g = new FunctionBuilder("fill", 1, false);
  const slot = g.newSlot(16, 16, "buffer");
  g.newSlot(1, 1, "pad");
  const wide = g.newSlot(8, 8, "wide");
  const p = g.slotAddress(slot);
  report(g, g.binary("and", p, g.constant(15)));          // 0: aligned
  report(g, g.binary("and", g.slotAddress(wide), g.constant(7)));
  g.store(4, p, g.param(0));
  g.store(4, p, g.binary("mul", g.param(0), g.constant(3)), 12);
  const more = g.newBlock(), done = g.newBlock();
  g.branch(g.binary("gts", g.param(0), g.constant(0)), more, done);
  g.switchTo(more); g.callVoid("fill", [g.binary("sub", g.param(0), g.constant(1))]);
  g.jump(done);
  g.switchTo(done);
  report(g, g.load(4, true, p));
  report(g, g.load(4, true, p, 12));
  g.ret();
  const result = run(mainModule((f) => f.callVoid("fill", [f.constant(2)]), [g.finish()]));
  t.is(result.error, undefined);
  t.deepEqual(result.values, [0, 0, 0, 0, 0, 0, /* unwinding: */ 0, 0, 1, 3, 2, 6]);
});

test("slot addresses lie at the top of memory, below the previous frame", (t) => {
  const result = run(mainModule((f) => {
    const a = f.slotAddress(f.newSlot(4, 4, "word"));
    report(f, a);
    report(f, f.binary("ltu", a, f.constant(32 * 1024 * 1024)));
    report(f, f.binary("gtu", a, f.constant(32 * 1024 * 1024 - 256)));
  }));
  t.deepEqual(result.values.slice(1), [1, 1]);
});

test("memoryCopy has memmove semantics in both directions", (t) => {
  const result = run(mainModule((f) => {
    const base = f.constant(SCRATCH);
    for (let i = 0; i < 8; i++) f.store(1, base, f.constant(i + 1), i);
    // forward overlap: copy [0..6) to [2..8) -> 1 2 1 2 3 4 5 6
    f.intrinsic("memoryCopy", [f.constant(SCRATCH + 2), base, f.constant(6)]);
    report(f, f.load(4, false, base));
    report(f, f.load(4, false, base, 4));
    // backward overlap: copy [2..8) to [0..6) -> 1 2 3 4 5 6 5 6
    f.intrinsic("memoryCopy", [base, f.constant(SCRATCH + 2), f.constant(6)]);
    report(f, f.load(4, false, base));
    report(f, f.load(4, false, base, 4));
    // zero length copies nothing, even from a wild address
    f.intrinsic("memoryCopy", [base, f.constant(-16), f.constant(0)]);
    report(f, f.load(4, false, base));
  }));
  t.is(result.error, undefined);
  t.deepEqual(result.values, [0x02010201, 0x06050403, 0x04030201, 0x06050605, 0x04030201]);
});

test("memoryFill stores the low byte of its value", (t) => {
  const result = run(mainModule((f) => {
    const base = f.constant(SCRATCH);
    f.store(4, base, f.constant(-1), 8);
    f.intrinsic("memoryFill", [f.constant(SCRATCH + 1), f.constant(0x1ab), f.constant(8)]);
    report(f, f.load(4, false, base));
    report(f, f.load(4, false, base, 4));
    report(f, f.load(4, false, base, 8));
  }));
  t.deepEqual(result.values, [0xababab00 | 0, 0xabababab | 0, 0xffffffab | 0]);
});

test("a load outside memory is an interpreter error naming the address and function", (t) => {
  const g = new FunctionBuilder("reader", 1, true);
  g.ret(g.load(4, true, g.param(0)));
  const result = run(mainModule((f) => {
    report(f, f.constant(1));
    report(f, f.call("reader", [f.constant(0x02000000 - 2)]));
    report(f, f.constant(2));
  }, [g.finish()]));
  t.is(result.error, "memory access out of range at 0x01fffffe, in function reader");
  t.is(result.stop, "error");
  t.deepEqual(result.values, [1]);
  t.true(result.instructions > 0);
});

test("stores and memory intrinsics outside memory are errors too", (t) => {
  const store = run(mainModule((f) => f.store(1, f.constant(0x7f000000), f.constant(1))));
  t.is(store.error, "memory access out of range at 0x7f000000, in function main");
  const store16 = run(mainModule((f) => f.store(2, f.constant(-1), f.constant(1))));
  t.is(store16.error, "memory access out of range at 0xffffffff, in function main");
  const copy = run(mainModule((f) => {
    f.intrinsic("memoryCopy", [f.constant(SCRATCH), f.constant(0x01fffff0), f.constant(0x20)]);
  }));
  t.regex(copy.error!, /^memory access out of range at 0x0[12]/);
  const fill = run(mainModule((f) => f.intrinsic("memoryFill", [f.constant(-4), f.constant(0), f.constant(8)])));
  t.regex(fill.error!, /^memory access out of range at 0xfffffffc, in function main$/);
});

test("memory size is configurable", (t) => {
  const module = mainModule((f) => report(f, f.load(4, true, f.constant(0x00ffff00))));
  t.is(run(module, { memorySize: 16 * 1024 * 1024 }).error, undefined);
  t.is(run(module, { memorySize: 8 * 1024 * 1024, dataBase: 0x00100000 }).error, "memory access out of range at 0x00ffff00, in function main");
});
