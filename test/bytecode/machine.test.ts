// The machine around the IR: calls, traps, port I/O (serial, isa-debug-exit), hlt, the step limit,
// rdtsc, control registers, the entry's arguments, and speed.

import test from "ava";
import { OPS, TRAP_BOUNDS, TRAP_DIVIDE_BY_ZERO, TRAP_UNREACHABLE, type BinaryOp } from "../../compiler/ir.ts";
import { encodeModule } from "../../compiler/bytecode/encode.ts";
import {
  DEFAULT_MULTIBOOT_INFO_ADDRESS, FUNCTION_ADDRESS_BASE, MULTIBOOT_MAGIC, runBytecode, runModule,
} from "../../compiler/bytecode/interpreter.ts";
import { FunctionBuilder } from "../../compiler/builder.ts";
import { makeModule, mainModule, run, report, outb, TRAP_EXIT_VALUE } from "./helpers.ts";

/** sum8(a..h) = a + 2b + 3c + ... + 8h: every argument lands in its own parameter. */
function sum8() {
  const g = new FunctionBuilder("sum8", 8, true);
  let total = g.constant(0);
  for (let i = 0; i < 8; i++) total = g.binary("add", total, g.binary("mul", g.param(i), g.constant(i + 1)));
  g.ret(total);
  return g.finish();
}

function factorial() {
  const g = new FunctionBuilder("factorial", 1, true);
  const base = g.newBlock(), recurse = g.newBlock();
  g.branch(g.binary("les", g.param(0), g.constant(1)), base, recurse);
  g.switchTo(base); g.ret(g.constant(1));
  g.switchTo(recurse);
  g.ret(g.binary("mul", g.param(0), g.call("factorial", [g.binary("sub", g.param(0), g.constant(1))])));
  return g.finish();
}

function fib() {
  const g = new FunctionBuilder("fib", 1, true);
  const base = g.newBlock(), recurse = g.newBlock();
  g.branch(g.binary("lts", g.param(0), g.constant(2)), base, recurse);
  g.switchTo(base); g.ret(g.param(0));
  g.switchTo(recurse);
  const a = g.call("fib", [g.binary("sub", g.param(0), g.constant(1))]);
  const b = g.call("fib", [g.binary("sub", g.param(0), g.constant(2))]);
  g.ret(g.binary("add", a, b));
  return g.finish();
}

test("a call with 8 arguments", (t) => {
  const result = run(mainModule((f) => {
    const args = [3, -1, 100, 7, 0x10000, -5, 11, 1000].map((v) => f.constant(v));
    report(f, f.call("sum8", args));
    report(f, f.call("sum8", args.slice().reverse()));
  }, [sum8()]));
  const values = [3, -1, 100, 7, 0x10000, -5, 11, 1000];
  const model = (list: number[]) => list.reduce((sum, v, i) => (sum + v * (i + 1)) | 0, 0);
  t.deepEqual(result.values, [model(values), model(values.slice().reverse())]);
});

test("recursion: factorial wraps at 32 bits, fib(20)", (t) => {
  const result = run(mainModule((f) => {
    report(f, f.call("factorial", [f.constant(10)]));
    report(f, f.call("factorial", [f.constant(13)]));
    report(f, f.call("fib", [f.constant(20)]));
  }, [factorial(), fib()]));
  t.deepEqual(result.values, [3628800, Number(BigInt.asIntN(32, 6227020800n)), 6765]);
});

test("deep recursion (10000 frames) works; unbounded recursion is a stack overflow error", (t) => {
  const g = new FunctionBuilder("down", 1, true);
  const base = g.newBlock(), recurse = g.newBlock();
  g.branch(g.binary("eq", g.param(0), g.constant(0)), base, recurse);
  g.switchTo(base); g.ret(g.constant(0));
  g.switchTo(recurse);
  g.ret(g.binary("add", g.constant(1), g.call("down", [g.binary("sub", g.param(0), g.constant(1))])));
  const deep = run(mainModule((f) => report(f, f.call("down", [f.constant(10000)])), [g.finish()]));
  t.deepEqual(deep.values, [10000]);

  const forever = run(mainModule((f) => report(f, f.call("down", [f.constant(-1)])), [g.finish()]));
  t.regex(forever.error!, /^stack overflow calling down \(stack pointer 0x[0-9a-f]{8}\), in function down$/);
});

test("callIndirect through functionAddress, with and without a value", (t) => {
  const noisy = new FunctionBuilder("noisy", 1, false);
  report(noisy, noisy.binary("add", noisy.param(0), noisy.constant(1000)));
  noisy.ret();
  const result = run(mainModule((f) => {
    const target = f.functionAddress("factorial");
    report(f, target);
    report(f, f.callIndirect(target, [f.constant(5)]));
    f.callIndirectVoid(f.functionAddress("noisy"), [f.constant(7)]);
    report(f, f.functionAddress("main"));
  }, [factorial(), noisy.finish()]));
  t.deepEqual(result.values, [FUNCTION_ADDRESS_BASE + 16, 120, 1007, FUNCTION_ADDRESS_BASE]);
});

test("callIndirect to anything but a function address is an interpreter error", (t) => {
  for (const target of [0, FUNCTION_ADDRESS_BASE + 8, FUNCTION_ADDRESS_BASE + 16 * 50, -1]) {
    const result = run(mainModule((f) => f.callIndirectVoid(f.constant(target), [])));
    const hex = "0x" + (target >>> 0).toString(16).padStart(8, "0");
    t.is(result.error, `callIndirect to ${hex}, which is not a function address, in function main`);
  }
  const wrongArity = run(mainModule((f) => f.callIndirect(f.functionAddress("factorial"), []), [factorial()]));
  t.regex(wrongArity.error!, /callIndirect to factorial with 0 arguments expecting a value, but it takes 1/);
});

/** The binary ops that may trap (the divisions): each traps on a zero divisor. */
const TRAPPING = Object.entries(OPS).filter(([, p]) => p.form === "binary" && p.mayTrap).map(([k]) => k as BinaryOp);

for (const kind of TRAPPING) {
  test(`${kind} by zero calls the trap handler with kind 1`, (t) => {
    const result = run(mainModule((f) => {
      report(f, f.constant(1));
      report(f, f.binary(kind, f.constant(5), f.constant(0)));
      report(f, f.constant(2));
    }));
    t.deepEqual(result.values, [1]);
    t.deepEqual(result.traps, [TRAP_DIVIDE_BY_ZERO]);
    t.is(result.exitPortValue, TRAP_EXIT_VALUE);
    t.is(result.stop, "exit");
    t.is(result.error, undefined);
  });
}

test("the trap instruction calls the trap handler with its kind, from a nested call", (t) => {
  for (const kind of [TRAP_UNREACHABLE, TRAP_BOUNDS]) {
    const g = new FunctionBuilder("checked", 0, false);
    g.trap(kind);
    g.unreachable();
    const result = run(mainModule((f) => f.callVoid("checked", []), [g.finish()]));
    t.deepEqual(result.traps, [kind]);
    t.is(result.exitPortValue, TRAP_EXIT_VALUE);
  }
});

test("a trap handler that returns is an interpreter error", (t) => {
  const handler = new FunctionBuilder("handler", 1, false);
  handler.ret();
  const main = new FunctionBuilder("main", 2, false);
  main.binary("divs", main.constant(1), main.constant(0));
  main.ret();
  const functions = [main.finish(), handler.finish()];
  const result = runModule({ functions, data: [], entry: "main", trapHandler: "handler" });
  t.is(result.error, "trap handler handler returned (it must not), in function handler");
});

test("serial output on COM1 and exit through port 0xf4", (t) => {
  const text = "Hello, Denali!\n\u00e9";
  const module = mainModule((f) => {
    for (const ch of text) {
      // poll the line status register first, as the kernel does for Bochs
      report(f, f.intrinsic("inb", [f.constant(0x3fd)]));
      outb(f, 0x3f8, f.constant(ch.charCodeAt(0)));
    }
    outb(f, 0x3f9, f.constant(0x41)); // interrupt enable register: ignored
    f.intrinsic("outb", [f.constant(0xf4), f.constant(0x31)]);
    outb(f, 0x3f8, f.constant(0x21)); // never runs
  });
  const result = runModule(module);
  t.is(result.serial, text);
  t.is(result.exitPortValue, 0x31);
  t.is(result.stop, "exit");
  t.false(result.halted);
  t.is(result.error, undefined);
  t.deepEqual(run(module).values, Array(text.length).fill(0x60));
});

test("default port reads: COM1 registers 0 except line status; unassigned ports all ones", (t) => {
  const result = run(mainModule((f) => {
    report(f, f.intrinsic("inb", [f.constant(0x3f8)]));
    report(f, f.intrinsic("inb", [f.constant(0x3fa)]));
    report(f, f.intrinsic("inb", [f.constant(0x3fd)]));
    report(f, f.intrinsic("inb", [f.constant(0x60)]));
    report(f, f.intrinsic("inw", [f.constant(0x1f0)]));
    report(f, f.intrinsic("inl", [f.constant(0xcfc)]));
  }));
  t.deepEqual(result.values, [0, 0, 0x60, 0xff, 0xffff, -1]);
});

test("port hooks see every access and may answer or swallow it", (t) => {
  const outs: [number, number, number][] = [];
  const module = mainModule((f) => {
    f.intrinsic("outw", [f.constant(0x1234), f.constant(0x1abcd)]);
    f.intrinsic("outl", [f.constant(0x10020), f.constant(-2)]);
    outb(f, 0x3f8, f.constant(0x5a));
    report(f, f.intrinsic("inw", [f.constant(0x71)]));
    report(f, f.intrinsic("inb", [f.constant(0x3fd)]));
  });
  const values: number[] = [];
  const result = runModule(module, {
    onOut(port, value, width) {
      if (port === 0x500) { values.push(value); return true; }
      outs.push([port, value, width]);
      return port === 0x3f8; // swallow serial
    },
    onIn: (port, width) => (port === 0x71 ? 0x123456 : port === 0x3fd ? undefined : width),
  });
  t.deepEqual(outs, [[0x1234, 0xabcd, 2], [0x0020, 0xfffffffe, 4], [0x3f8, 0x5a, 1], [0xf4, 0, 1]]);
  t.deepEqual(values, [0x3456, 0x60]);
  t.is(result.serial, "");
});

test("hlt ends the run as halted; entry returning ends it with its value", (t) => {
  const halted = runModule(mainModule((f) => {
    outb(f, 0x3f8, f.constant(0x68));
    f.intrinsic("hlt", []);
    outb(f, 0x3f8, f.constant(0x69));
  }));
  t.true(halted.halted);
  t.is(halted.stop, "halt");
  t.is(halted.serial, "h");
  t.is(halted.exitPortValue, null);

  const g = new FunctionBuilder("main", 2, true);
  g.ret(g.constant(-5));
  const returned = runModule(makeModule([g.finish()]));
  t.is(returned.stop, "return");
  t.is(returned.returnValue, -5);
  t.false(returned.halted);
});

test("entry receives the multiboot magic and an info struct with flags 0", (t) => {
  const result = run(mainModule((f) => {
    report(f, f.param(0));
    report(f, f.param(1));
    report(f, f.load(4, false, f.param(1)));
  }));
  t.deepEqual(result.values, [MULTIBOOT_MAGIC | 0, DEFAULT_MULTIBOOT_INFO_ADDRESS, 0]);
  const moved = run(mainModule((f) => report(f, f.param(1))), { multibootInfoAddress: 0x7000 });
  t.deepEqual(moved.values, [0x7000]);
});

/** main: loops forever incrementing a counter. */
function foreverModule() {
  return mainModule((f) => {
    const loop = f.newBlock();
    const i = f.constant(0);
    f.jump(loop);
    f.switchTo(loop);
    f.emit({ op: "binary", kind: "add", dst: i, a: i, b: f.constant(1) });
    f.jump(loop);
    f.switchTo(f.newBlock());
  });
}

test("the step limit ends a run with an error and an exact count", (t) => {
  const result = runModule(foreverModule(), { stepLimit: 1000 });
  t.is(result.error, "step limit of 1000 instructions reached, in function main");
  t.is(result.instructions, 1000);
  t.is(result.stop, "error");
});

test("rdtsc counts IR instructions: deterministic, terminators included", (t) => {
  const module = mainModule((f) => {
    const first = f.intrinsic("rdtsc", []);
    f.constant(0);
    f.constant(0);
    const next = f.newBlock();
    f.jump(next);
    f.switchTo(next);
    const second = f.intrinsic("rdtsc", []);
    report(f, f.binary("sub", second, first));
    report(f, f.intrinsic("rdtscHigh", []));
  });
  const a = run(module), b = run(module);
  t.deepEqual(a.values, [4, 0]); // const, const, jump, rdtsc
  t.deepEqual(a, b);
});

test("control registers hold what was written; cli/sti/pause/lgdt/lidt/ltr/invlpg/lldt/clts do nothing", (t) => {
  const result = run(mainModule((f) => {
    report(f, f.intrinsic("readCr0", []));
    f.intrinsic("writeCr0", [f.constant(0x80000011)]);
    f.intrinsic("writeCr3", [f.constant(0x00400000)]);
    f.intrinsic("writeCr4", [f.constant(0x10)]);
    for (const name of ["cli", "sti", "pause", "clts"] as const) f.intrinsic(name, []);
    for (const name of ["lgdt", "lidt", "ltr", "invlpg", "lldt"] as const) f.intrinsic(name, [f.constant(0x1000)]);
    report(f, f.intrinsic("readCr0", []));
    report(f, f.intrinsic("readCr2", []));
    report(f, f.intrinsic("readCr3", []));
    report(f, f.intrinsic("readCr4", []));
  }));
  t.is(result.error, undefined);
  t.deepEqual(result.values, [0x11, 0x80000011 | 0, 0, 0x00400000, 0x10]);
});

test("crc32Word: the CRC32C register after a word, low byte first (RFC 3720 B.4's 32 zeros, 32 ones)", (t) => {
  const result = run(mainModule((f) => {
    let c = f.constant(-1);
    for (let i = 0; i < 8; i++) c = f.intrinsic("crc32Word", [c, f.constant(0)]);
    report(f, f.unary("not", c));
    let d = f.constant(-1);
    for (let i = 0; i < 8; i++) d = f.intrinsic("crc32Word", [d, f.constant(-1)]);
    report(f, f.unary("not", d));
  }));
  t.is(result.error, undefined);
  t.deepEqual(result.values, [0x8a9136aa | 0, 0x62a8ab43]);   // and B.4's 32 bytes of 0xff
});

for (const name of ["fnsave", "frstor", "cpuid"] as const) {
  test(`${name} stops the interpreter with an error naming it (no x87 unit, no CPUID here)`, (t) => {
    const args = name === "cpuid" ? [0, 0, 0x1000] : [0x1000];
    const result = run(mainModule((f) => f.intrinsic(name, args.map((x) => f.constant(x)))));
    t.is(result.error, `${name}: the interpreter has no x87 unit or CPUID, in function main`);
  });
}

for (const name of ["readMsr", "readMsrHigh", "writeMsr"] as const) {
  test(`${name} stops the interpreter with an error naming it (no model-specific registers here)`, (t) => {
    const args = name === "writeMsr" ? [0x1b, 0, 0] : [0x1b];
    const result = run(mainModule((f) => f.intrinsic(name, args.map((x) => f.constant(x)))));
    t.is(result.error, `${name}: the interpreter has no model-specific registers, in function main`);
  });
}

test("readFlags: bit 1 always, IF as cli and sti left it (clear at entry); readFramePointer stops with an error",
  (t) => {
  const flags = run(mainModule((f) => {
    report(f, f.intrinsic("readFlags", []));
    f.intrinsic("sti", []);
    report(f, f.intrinsic("readFlags", []));
    f.intrinsic("cli", []);
    report(f, f.intrinsic("readFlags", []));
  }));
  t.deepEqual(flags.values, [0x2, 0x202, 0x2]);
  const frame = run(mainModule((f) => report(f, f.intrinsic("readFramePointer", []))));
  t.is(frame.error, "readFramePointer: the interpreter has no machine frame chain, in function main");
});

test("executing an unreachable terminator is an interpreter error", (t) => {
  const f = new FunctionBuilder("main", 2, false);
  f.unreachable();
  t.is(runModule(makeModule([f.finish()])).error, "reached an unreachable terminator (block 0), in function main");
});

test("runBytecode runs encoded bytes; bad bytes throw", (t) => {
  const bytes = encodeModule(mainModule((f) => outb(f, 0x3f8, f.constant(0x4f))));
  t.is(runBytecode(bytes).serial, "O");
  t.throws(() => runBytecode(bytes.subarray(0, 10)), { message: /truncated/ });
});

// Millions of instructions (the interpreter's speed is a benchmark's business, not a timed test's).
test("millions of IR instructions: fib(27), some 600,000 calls and returns", (t) => {
  const module = mainModule((f) => report(f, f.call("fib", [f.constant(27)])), [fib()]);
  const result = run(module);
  t.deepEqual(result.values, [196418]);
  t.true(result.instructions > 2_000_000);
});
