// The machine around the IR: calls, traps, port I/O (serial, isa-debug-exit), hlt, the step limit,
// rdtsc, control registers, the entry's arguments, and speed.

import test from "ava";
import { TRAP_BOUNDS, TRAP_DIVIDE_BY_ZERO, TRAP_UNREACHABLE } from "../../compiler/ir.ts";
import { encodeModule } from "../../compiler/bytecode/encode.ts";
import {
  DEFAULT_MULTIBOOT_INFO_ADDRESS, FUNCTION_ADDRESS_BASE, MULTIBOOT_MAGIC, runBytecode, runModule,
} from "../../compiler/bytecode/interpreter.ts";
import { FunctionBuilder, makeModule, mainModule, run, TRAP_EXIT_VALUE } from "./helpers.ts";

/** sum8(a..h) = a + 2b + 3c + ... + 8h: every argument lands in its own parameter. */
function sum8() {
  const g = new FunctionBuilder("sum8", 8, true);
  let total = g.const(0);
  for (let i = 0; i < 8; i++) total = g.binary("add", total, g.binary("mul", g.param(i), g.const(i + 1)));
  g.ret(total);
  return g.build();
}

function factorial() {
  const g = new FunctionBuilder("factorial", 1, true);
  const base = g.newBlock(), recurse = g.newBlock();
  g.branch(g.binary("les", g.param(0), g.const(1)), base, recurse);
  g.at(base).ret(g.const(1));
  g.at(recurse);
  g.ret(g.binary("mul", g.param(0), g.call("factorial", [g.binary("sub", g.param(0), g.const(1))])));
  return g.build();
}

function fib() {
  const g = new FunctionBuilder("fib", 1, true);
  const base = g.newBlock(), recurse = g.newBlock();
  g.branch(g.binary("lts", g.param(0), g.const(2)), base, recurse);
  g.at(base).ret(g.param(0));
  g.at(recurse);
  const a = g.call("fib", [g.binary("sub", g.param(0), g.const(1))]);
  const b = g.call("fib", [g.binary("sub", g.param(0), g.const(2))]);
  g.ret(g.binary("add", a, b));
  return g.build();
}

test("a call with 8 arguments", (t) => {
  const result = run(mainModule((f) => {
    const args = [3, -1, 100, 7, 0x10000, -5, 11, 1000].map((v) => f.const(v));
    f.report(f.call("sum8", args));
    f.report(f.call("sum8", args.slice().reverse()));
  }, [sum8()]));
  const values = [3, -1, 100, 7, 0x10000, -5, 11, 1000];
  const model = (list: number[]) => list.reduce((sum, v, i) => (sum + v * (i + 1)) | 0, 0);
  t.deepEqual(result.values, [model(values), model(values.slice().reverse())]);
});

test("recursion: factorial wraps at 32 bits, fib(20)", (t) => {
  const result = run(mainModule((f) => {
    f.report(f.call("factorial", [f.const(10)]));
    f.report(f.call("factorial", [f.const(13)]));
    f.report(f.call("fib", [f.const(20)]));
  }, [factorial(), fib()]));
  t.deepEqual(result.values, [3628800, Number(BigInt.asIntN(32, 6227020800n)), 6765]);
});

test("deep recursion (10000 frames) works; unbounded recursion is a stack overflow error", (t) => {
  const g = new FunctionBuilder("down", 1, true);
  const base = g.newBlock(), recurse = g.newBlock();
  g.branch(g.binary("eq", g.param(0), g.const(0)), base, recurse);
  g.at(base).ret(g.const(0));
  g.at(recurse);
  g.ret(g.binary("add", g.const(1), g.call("down", [g.binary("sub", g.param(0), g.const(1))])));
  const deep = run(mainModule((f) => f.report(f.call("down", [f.const(10000)])), [g.build()]));
  t.deepEqual(deep.values, [10000]);

  const forever = run(mainModule((f) => f.report(f.call("down", [f.const(-1)])), [g.build()]));
  t.regex(forever.error!, /^stack overflow calling down \(stack pointer 0x[0-9a-f]{8}\), in function down$/);
});

test("callIndirect through functionAddress, with and without a value", (t) => {
  const noisy = new FunctionBuilder("noisy", 1, false);
  noisy.report(noisy.binary("add", noisy.param(0), noisy.const(1000)));
  noisy.ret();
  const result = run(mainModule((f) => {
    const target = f.functionAddress("factorial");
    f.report(target);
    f.report(f.callIndirect(target, [f.const(5)]));
    f.callIndirectVoid(f.functionAddress("noisy"), [f.const(7)]);
    f.report(f.functionAddress("main"));
  }, [factorial(), noisy.build()]));
  t.deepEqual(result.values, [FUNCTION_ADDRESS_BASE + 16, 120, 1007, FUNCTION_ADDRESS_BASE]);
});

test("callIndirect to anything but a function address is an interpreter error", (t) => {
  for (const target of [0, FUNCTION_ADDRESS_BASE + 8, FUNCTION_ADDRESS_BASE + 16 * 50, -1]) {
    const result = run(mainModule((f) => f.callIndirectVoid(f.const(target), [])));
    const hex = "0x" + (target >>> 0).toString(16).padStart(8, "0");
    t.is(result.error, `callIndirect to ${hex}, which is not a function address, in function main`);
  }
  const wrongArity = run(mainModule((f) => f.callIndirect(f.functionAddress("factorial"), []), [factorial()]));
  t.regex(wrongArity.error!, /callIndirect to factorial with 0 arguments expecting a value, but it takes 1/);
});

for (const kind of ["divs", "divu", "rems", "remu"] as const) {
  test(`${kind} by zero calls the trap handler with kind 1`, (t) => {
    const result = run(mainModule((f) => {
      f.report(f.const(1));
      f.report(f.binary(kind, f.const(5), f.const(0)));
      f.report(f.const(2));
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
    const result = run(mainModule((f) => f.callVoid("checked", []), [g.build()]));
    t.deepEqual(result.traps, [kind]);
    t.is(result.exitPortValue, TRAP_EXIT_VALUE);
  }
});

test("a trap handler that returns is an interpreter error", (t) => {
  const handler = new FunctionBuilder("handler", 1, false);
  handler.ret();
  const main = new FunctionBuilder("main", 2, false);
  main.binary("divs", main.const(1), main.const(0));
  main.ret();
  const result = runModule({ functions: [main.build(), handler.build()], data: [], entry: "main", trapHandler: "handler" });
  t.is(result.error, "trap handler handler returned (it must not), in function handler");
});

test("serial output on COM1 and exit through port 0xf4", (t) => {
  const text = "Hello, Denali!\n\u00e9";
  const module = mainModule((f) => {
    for (const ch of text) {
      // poll the line status register first, as the kernel does for Bochs
      f.report(f.intrinsic("inb", [f.const(0x3fd)]));
      f.outb(0x3f8, f.const(ch.charCodeAt(0)));
    }
    f.outb(0x3f9, f.const(0x41)); // interrupt enable register: ignored
    f.intrinsicVoid("outb", [f.const(0xf4), f.const(0x31)]);
    f.outb(0x3f8, f.const(0x21)); // never runs
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
    f.report(f.intrinsic("inb", [f.const(0x3f8)]));
    f.report(f.intrinsic("inb", [f.const(0x3fa)]));
    f.report(f.intrinsic("inb", [f.const(0x3fd)]));
    f.report(f.intrinsic("inb", [f.const(0x60)]));
    f.report(f.intrinsic("inw", [f.const(0x1f0)]));
    f.report(f.intrinsic("inl", [f.const(0xcfc)]));
  }));
  t.deepEqual(result.values, [0, 0, 0x60, 0xff, 0xffff, -1]);
});

test("port hooks see every access and may answer or swallow it", (t) => {
  const outs: [number, number, number][] = [];
  const module = mainModule((f) => {
    f.intrinsicVoid("outw", [f.const(0x1234), f.const(0x1abcd)]);
    f.intrinsicVoid("outl", [f.const(0x10020), f.const(-2)]);
    f.outb(0x3f8, f.const(0x5a));
    f.report(f.intrinsic("inw", [f.const(0x71)]));
    f.report(f.intrinsic("inb", [f.const(0x3fd)]));
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
    f.outb(0x3f8, f.const(0x68));
    f.intrinsicVoid("hlt", []);
    f.outb(0x3f8, f.const(0x69));
  }));
  t.true(halted.halted);
  t.is(halted.stop, "halt");
  t.is(halted.serial, "h");
  t.is(halted.exitPortValue, null);

  const g = new FunctionBuilder("main", 2, true);
  g.ret(g.const(-5));
  const returned = runModule(makeModule([g.build()]));
  t.is(returned.stop, "return");
  t.is(returned.returnValue, -5);
  t.false(returned.halted);
});

test("entry receives the multiboot magic and an info struct with flags 0", (t) => {
  const result = run(mainModule((f) => {
    f.report(f.param(0));
    f.report(f.param(1));
    f.report(f.load(4, false, f.param(1)));
  }));
  t.deepEqual(result.values, [MULTIBOOT_MAGIC | 0, DEFAULT_MULTIBOOT_INFO_ADDRESS, 0]);
  const moved = run(mainModule((f) => f.report(f.param(1))), { multibootInfoAddress: 0x7000 });
  t.deepEqual(moved.values, [0x7000]);
});

/** main: loops forever incrementing a counter. */
function foreverModule() {
  return mainModule((f) => {
    const loop = f.newBlock();
    const i = f.const(0);
    f.jump(loop);
    f.at(loop);
    f.emit({ op: "binary", kind: "add", dst: i, a: i, b: f.const(1) });
    f.jump(loop);
    f.at(f.newBlock());
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
    f.const(0);
    f.const(0);
    const next = f.newBlock();
    f.jump(next);
    f.at(next);
    const second = f.intrinsic("rdtsc", []);
    f.report(f.binary("sub", second, first));
    f.report(f.intrinsic("rdtscHigh", []));
  });
  const a = run(module), b = run(module);
  t.deepEqual(a.values, [4, 0]); // const, const, jump, rdtsc
  t.deepEqual(a, b);
});

test("control registers hold what was written; cli/sti/pause/lgdt/lidt/ltr/invlpg/lldt/clts do nothing", (t) => {
  const result = run(mainModule((f) => {
    f.report(f.intrinsic("readCr0", []));
    f.intrinsicVoid("writeCr0", [f.const(0x80000011)]);
    f.intrinsicVoid("writeCr3", [f.const(0x00400000)]);
    f.intrinsicVoid("writeCr4", [f.const(0x10)]);
    for (const name of ["cli", "sti", "pause", "clts"] as const) f.intrinsicVoid(name, []);
    for (const name of ["lgdt", "lidt", "ltr", "invlpg", "lldt"] as const) f.intrinsicVoid(name, [f.const(0x1000)]);
    f.report(f.intrinsic("readCr0", []));
    f.report(f.intrinsic("readCr2", []));
    f.report(f.intrinsic("readCr3", []));
    f.report(f.intrinsic("readCr4", []));
  }));
  t.is(result.error, undefined);
  t.deepEqual(result.values, [0x11, 0x80000011 | 0, 0, 0x00400000, 0x10]);
});

for (const name of ["fnsave", "frstor", "cpuid"] as const) {
  test(`${name} stops the interpreter with an error naming it (no x87 unit, no CPUID here)`, (t) => {
    const args = name === "cpuid" ? [0, 0, 0x1000] : [0x1000];
    const result = run(mainModule((f) => f.intrinsicVoid(name, args.map((x) => f.const(x)))));
    t.is(result.error, `${name}: the interpreter has no x87 unit or CPUID, in function main`);
  });
}

test("readFlags: bit 1 always, IF as cli and sti left it (clear at entry); readFramePointer stops with an error",
  (t) => {
  const flags = run(mainModule((f) => {
    f.report(f.intrinsic("readFlags", []));
    f.intrinsicVoid("sti", []);
    f.report(f.intrinsic("readFlags", []));
    f.intrinsicVoid("cli", []);
    f.report(f.intrinsic("readFlags", []));
  }));
  t.deepEqual(flags.values, [0x2, 0x202, 0x2]);
  const frame = run(mainModule((f) => f.report(f.intrinsic("readFramePointer", []))));
  t.is(frame.error, "readFramePointer: the interpreter has no machine frame chain, in function main");
});

test("executing an unreachable terminator is an interpreter error", (t) => {
  const f = new FunctionBuilder("main", 2, false);
  f.unreachable();
  t.is(runModule(makeModule([f.build()])).error, "reached an unreachable terminator (block 0), in function main");
});

test("runBytecode runs encoded bytes; bad bytes throw", (t) => {
  const bytes = encodeModule(mainModule((f) => f.outb(0x3f8, f.const(0x4f))));
  t.is(runBytecode(bytes).serial, "O");
  t.throws(() => runBytecode(bytes.subarray(0, 10)), { message: /truncated/ });
});

test("speed: millions of IR instructions run in seconds", (t) => {
  const module = mainModule((f) => f.report(f.call("fib", [f.const(27)])), [fib()]);
  const start = performance.now();
  const result = run(module);
  const seconds = (performance.now() - start) / 1000;
  t.deepEqual(result.values, [196418]);
  t.true(result.instructions > 2_000_000);
  t.log(`${result.instructions} instructions in ${seconds.toFixed(2)} s (${(result.instructions / seconds / 1e6).toFixed(1)} M/s)`);
  t.true(seconds < 5);
});
