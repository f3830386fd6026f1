// Contract: the linked image is a well-formed multiboot ELF32 (elfy, readelf-style checks, objdump) and boots in QEMU.

import test from "ava";
import { execFileSync } from "node:child_process";
import elfy from "elfy";
import { compileToImage, MULTIBOOT_MAGIC } from "../../compiler/link/index.ts";
import type { Module } from "../../compiler/ir.ts";
import { parseFunction } from "../../compiler/parse.ts";
import { boot, programModule, writeImage, testFunction, puts, putHex } from "./helpers.ts";
import { SYSENTER_CALL_BYTES } from "../../abi/hypercalls.ts";

/** The "hello" program: prints over COM1, reads a .data word and a function pointer from .rodata, exits with 42. */
function helloModule(): Module {
  const answer = testFunction("answer", 0, true);
  answer.ret(answer.constant(42));
  return programModule((main) => {
    puts(main, "Hello, Denali\n");
    putHex(main, main.load(4, false, main.globalAddress("counter")));
    const fn = main.load(4, false, main.globalAddress("table"), 4);
    const code = main.callIndirect(fn, []);
    main.callVoid("exit", [code]);
  }, [answer.finish()], [
    { name: "table", section: "rodata", align: 4, size: 8, bytes: new Uint8Array([1, 2, 3, 4]), relocations: [{ offset: 4, symbol: "answer", kind: "function" }] },
    { name: "counter", section: "data", align: 4, size: 4, bytes: new Uint8Array([0x78, 0x56, 0x34, 0x12]), relocations: [] },
    { name: "self", section: "data", align: 8, size: 4, relocations: [{ offset: 0, symbol: "counter", kind: "data" }] },
    { name: "buffer", section: "bss", align: 64, size: 100, relocations: [] },
  ]);
}

const image = compileToImage(helloModule());
const file = writeImage(image, "hello");

test("boots in QEMU, prints over COM1 and exits through isa-debug-exit", async (t) => {
  const r = await boot(file);
  t.false(r.timedOut);
  t.is(r.serial, "Hello, Denali\n12345678\n");
  t.is(r.exitCode, 42);
});

test("ELF header and program headers (elfy)", (t) => {
  const elf = elfy.parse(Buffer.from(image.elf));
  t.is(String(elf.class), "32");
  t.is(elf.machine, "386");
  t.is(elf.type, "exec");
  t.is(elf.entry, image.symbols.get("_start")!.address);
  t.is(elf.entry, image.entryAddress);
  const loads = elf.body.programs.filter((p: { type: string }) => p.type === "load");
  t.is(loads.length, 3);
  const [text, rodata, data] = loads;
  t.is(text.vaddr, 0x100000);
  t.deepEqual(text.flags, { r: true, x: true });
  t.deepEqual(rodata.flags, { r: true });
  t.deepEqual(data.flags, { r: true, w: true });
  for (const p of loads) {
    t.is(p.offset % 4096, p.vaddr % 4096);
    t.is(p.paddr, p.vaddr);
  }
  t.true(data.memsz > data.filesz, "bss makes memsz exceed filesz");
  t.is(data.vaddr % 4096, 0);
  t.is(rodata.vaddr % 4096, 0);
});

test("multiboot header in the first 8 KiB, 4-aligned, valid checksum, no address fields", (t) => {
  const bytes = Buffer.from(image.elf);
  let at = -1;
  for (let i = 0; i + 12 <= Math.min(8192, bytes.length); i += 4) if (bytes.readUInt32LE(i) === MULTIBOOT_MAGIC) { at = i; break; }
  t.true(at >= 0);
  const flags = bytes.readUInt32LE(at + 4), checksum = bytes.readUInt32LE(at + 8);
  t.is(flags, 0b11);
  t.is((MULTIBOOT_MAGIC + flags + checksum) >>> 0, 0);
  t.is(flags & (1 << 16), 0);
});

test("sections and symbol table", (t) => {
  const elf = elfy.parse(Buffer.from(image.elf));
  const sections = elf.body.sections as { name: string; type: string; addr: number; size: number; data: Buffer; flags: Record<string, boolean>; link: number }[];
  const names = sections.map((s) => s.name);
  for (const n of [".text", ".rodata", ".data", ".bss", ".symtab", ".strtab", ".shstrtab"]) t.true(names.includes(n), n);
  const byName = (n: string) => sections.find((s) => s.name === n)!;
  t.is(byName(".bss").type, "nobits");
  t.true(byName(".text").flags.execinstr);
  t.is(byName(".text").size, image.textSize);
  t.is(byName(".data").addr % 4096, 0);

  // decode Elf32_Sym entries by hand
  const symtab = byName(".symtab"), strtab = sections[symtab.link];
  const cstr = (off: number) => strtab.data.subarray(off, strtab.data.indexOf(0, off)).toString();
  const syms = new Map<string, { value: number; size: number; type: number; bind: number }>();
  for (let at = 16; at < symtab.data.length; at += 16) {
    const info = symtab.data[at + 12];
    syms.set(cstr(symtab.data.readUInt32LE(at)), { value: symtab.data.readUInt32LE(at + 4), size: symtab.data.readUInt32LE(at + 8), type: info & 15, bind: info >> 4 });
  }
  for (const f of ["_start", "main", "answer", "putc", "putHex", "exit", "trap"]) {
    const s = syms.get(f);
    t.truthy(s, f);
    t.is(s!.type, 2, `${f} is STT_FUNC`);
    t.is(s!.bind, 1, `${f} is GLOBAL`);
    t.true(s!.size > 0);
    t.deepEqual({ address: s!.value, size: s!.size }, image.symbols.get(f));
  }
  for (const d of ["table", "counter", "self", "buffer"]) {
    t.is(syms.get(d)!.type, 1, `${d} is STT_OBJECT`);
    t.is(syms.get(d)!.value, image.symbols.get(d)!.address);
  }
  t.is(image.symbols.get("buffer")!.address % 64, 0);
  t.is(syms.get("__stack_top")!.value % 16, 0);
  t.is(syms.get("__stack_top")!.value - syms.get("__stack_bottom")!.value, 64 * 1024);

  // relocations were patched with final addresses
  const rodata = byName(".rodata"), data = byName(".data");
  t.is(rodata.data.readUInt32LE(image.symbols.get("table")!.address - rodata.addr + 4), image.symbols.get("answer")!.address);
  t.is(data.data.readUInt32LE(image.symbols.get("self")!.address - data.addr), image.symbols.get("counter")!.address);
});

test("data symbols are placed smallest first within a section, in module order among equals", (t) => {
  const sym = (name: string, size: number, align = 4) =>
    ({ name, section: "bss" as const, align, size, relocations: [] });
  const module = programModule((main) => { main.callVoid("exit", [main.constant(0)]); }, [],
    [sym("big", 8192), sym("small", 4), sym("middle", 300, 16), sym("tiny", 1, 1), sym("small2", 4)]);
  const at = compileToImage(module).symbols;
  const order = ["tiny", "small", "small2", "middle", "big"].map(n => at.get(n)!.address);
  t.deepEqual([...order].sort((a, b) => a - b), order);
  t.is(at.get("middle")!.address % 16, 0);
  // The five share one page but for the large array: a program's scalars are not spread between arrays.
  t.is(at.get("middle")!.address >>> 12, at.get("tiny")!.address >>> 12);
});

test("objdump -d shows every function symbol", (t) => {
  const out = execFileSync("objdump", ["-d", file], { encoding: "utf8" });
  for (const f of ["_start", "main", "answer", "putc", "putHex", "exit", "trap"]) {
    t.regex(out, new RegExp(`^${image.symbols.get(f)!.address.toString(16).padStart(8, "0")} <${f}>:`, "m"));
  }
  t.notRegex(out, /\(bad\)/);
});

test("listing has function headers, block source lines, addresses and bytes", (t) => {
  t.regex(image.listing, /^; ---- main @ [0-9A-F]{8} size \d+ frame \d+/m);
  t.regex(image.listing, /^ {2}; block 0 {2}; main\.ts:1$/m);
  t.regex(image.listing, /^ {2}00100010 {2}BC[0-9A-F]{8} +mov +esp,/m);
  t.regex(image.listing, /call +[0-9A-F]+h/);
});

test("lowering rejects bad modules with a clear message", (t) => {
  const m = helloModule();
  t.throws(() => compileToImage({ ...m, entry: "nope" }), { message: /entry function 'nope'/ });
  t.throws(() => compileToImage({ ...m, trapHandler: "nope" }), { message: /trap handler 'nope'/ });
  const bad = testFunction("bad", 0, false);
  bad.callVoid("missing", []);
  bad.ret();
  const functions = [...m.functions, bad.finish()];
  t.throws(() => compileToImage({ ...m, functions }), { message: /unknown function 'missing'/ });
});

test("a guarded stack is a segment of its own above an unmapped page; programs boot with paging on", async (t) => {
  for (const stackGuard of ["program", "guest"] as const) {
    const guarded = compileToImage(helloModule(), { stackGuard, stackSize: 16 * 1024 });
    const loads = elfy.parse(Buffer.from(guarded.elf)).body.programs.filter((p: { type: string }) => p.type === "load");
    t.is(loads.length, 4, stackGuard);
    const [, , data, stack] = loads;
    t.deepEqual(stack.flags, { r: true, w: true });
    t.is(stack.filesz, 0);
    t.is(stack.memsz, 16 * 1024);
    const bottom = guarded.symbols.get("__stack_bottom")!.address;
    t.is(stack.vaddr, bottom);
    t.is(guarded.symbols.get("__stack_top")!.address, bottom + 16 * 1024);
    // The guard: the page under the stack, which no segment covers.
    t.true(Math.ceil((data.vaddr + data.memsz) / 4096) * 4096 <= bottom - 4096,
      `${stackGuard}: a page between .bss and the stack`);
    t.is(guarded.symbols.has("__stack_fault"), stackGuard === "program");
  }
  const program = compileToImage(helloModule(), { stackGuard: "program" });
  const r = await boot(writeImage(program, "hello-guarded"));
  t.is(r.serial, "Hello, Denali\n12345678\n");
  t.is(r.exitCode, 42);
});

test("a jump table: a .rodata symbol of its targets' addresses in the function, read by jmp [index*4 + table]",
  async (t) => {
  // switch (v0) { case 0..4: return 10 + k } (the third case via `ne`), default: return 99
  const lines = ["function pick(v0) -> i32 {"];
  for (let k = 0; k < 5; k++) {
    const kind = k === 2 ? "ne" : "eq", hit = `b${5 + k}`, miss = `b${k + 1 === 5 ? 10 : k + 1}`;
    lines.push(`b${k}:`, `  v${1 + k} = const ${k}`, `  v${6 + k} = ${kind} v0, v${1 + k}`,
      `  branch v${6 + k}, ${kind === "eq" ? hit : miss}, ${kind === "eq" ? miss : hit}`);
  }
  for (let k = 0; k < 5; k++) lines.push(`b${5 + k}:`, `  v${11 + k} = const ${10 + k}`, `  return v${11 + k}`);
  lines.push("b10:", "  v16 = const 99", "  return v16", "}");
  const m = programModule((main) => {
    for (const x of [0, 2, 4, 5, -1]) putHex(main, main.call("pick", [main.constant(x)]));
  }, [parseFunction(lines.join("\n"))]);
  const linked = compileToImage(m);
  const table = linked.symbols.get("pick.switch0"), pick = linked.symbols.get("pick");
  t.truthy(table && pick);
  t.is(table!.size, 20);
  const rodata = linked.sections.find(s => s.name === ".rodata")!;
  t.true(table!.address >= rodata.address && table!.address + 20 <= rodata.address + rodata.size);
  const elf = elfy.parse(Buffer.from(linked.elf));
  const section = elf.body.sections.find((s: { name: string }) => s.name === ".rodata");
  const words = Array.from({ length: 5 }, (_, k) => section.data.readUInt32LE(table!.address - rodata.address + 4 * k));
  for (const w of words) t.true(w > pick!.address && w < pick!.address + pick!.size, `0x${w.toString(16)} is in pick`);
  t.is(new Set(words).size, 5);
  const at = table!.address.toString(16).toUpperCase();
  t.regex(linked.listing, new RegExp(`jmp +dword ptr \\[e[a-z]x\\*4\\+${at}h\\]`));
  const r = await boot(writeImage(linked, "jump-table"));
  t.is(r.serial, ["0000000a", "0000000c", "0000000e", "00000063", "00000063", ""].join("\n"));
});

test("an early return on a parameter's test runs before the prologue: mov, cmp, jcc, ret; no test again", async (t) => {
  const fib = parseFunction(`
function fib(v0) -> i32 {
b0:
  v1 = const 2
  v2 = lts v0, v1
  branch v2, b1, b2
b1:
  return v0
b2:
  v3 = const 1
  v4 = sub v0, v3
  v5 = call fib(v4)
  v6 = const 2
  v7 = sub v0, v6
  v8 = call fib(v7)
  v9 = add v5, v8
  return v9
}`);
  // the second parameter tested, a constant returned, the early side the branch's false one
  const count = parseFunction(`
function count(v0, v1) -> i32 {
b0:
  v2 = const 0
  v3 = ne v1, v2
  branch v3, b1, b2
b1:
  v4 = const 1
  v5 = sub v1, v4
  v6 = call count(v0, v5)
  v7 = add v6, v0
  return v7
b2:
  v8 = const 7
  return v8
}`);
  // two parameters compared (quicksort's `if (lo >= hi) return`)
  const span = parseFunction(`
function span(v0, v1) -> i32 {
b0:
  v2 = ges v0, v1
  branch v2, b1, b2
b1:
  v3 = const 0
  return v3
b2:
  v4 = const 1
  v5 = add v0, v4
  v6 = call span(v5, v1)
  v7 = add v6, v4
  return v7
}`);
  const m = programModule((main) => {
    putHex(main, main.call("fib", [main.constant(10)]));
    putHex(main, main.call("count", [main.constant(3), main.constant(4)]));
    putHex(main, main.call("span", [main.constant(2), main.constant(9)]));
  }, [fib, count, span]);
  const linked = compileToImage(m);
  const code = (name: string) => linked.listing.split(`\n${name}:\n`)[1].split("\n").slice(0, 4)
    .map(line => line.replace(/^ +[0-9A-F]+ +[0-9A-F]+ +/, "").replace(/ +/g, " "));
  t.deepEqual(code("fib").slice(0, 2), ["mov eax,[esp+4]", "cmp eax,2"]);
  t.regex(code("fib")[2], /^jge /);
  t.is(code("fib")[3], "ret");
  t.deepEqual(code("count").slice(0, 2), ["mov eax,[esp+8]", "cmp eax,0"]);
  t.regex(code("count")[2], /^jne /);
  // after the prologue the entry block's outcome is known: no second test, no code for the early side
  const compares = (name: string) =>
    linked.listing.split(`\n${name}:\n`)[1].split(/\n(?=\S)/)[0].match(/ cmp /g)?.length;
  t.is(compares("fib"), 1);
  t.is(compares("count"), 1);
  t.deepEqual(code("span").slice(0, 2), ["mov eax,[esp+4]", "cmp eax,[esp+8]"]);
  t.regex(code("span")[2], /^jl /);
  t.is(code("span")[3], "mov eax,0"); // then ret
  t.is(compares("span"), 1);
  const r = await boot(writeImage(linked, "early-return"));
  t.is(r.serial, ["00000037", "00000013", "00000007", ""].join("\n"));
});

test("rotates are rol, an and tested against 0 is test, x & 0xffff into another register is movzx", async (t) => {
  const bits = parseFunction(`
function bits(v0, v1) -> i32 {
b0:
  v2 = const 31
  v3 = const 32
  v4 = and v1, v2
  v5 = sub v3, v1
  v6 = and v5, v2
  v7 = shl v0, v4
  v8 = shru v0, v6
  v9 = or v7, v8
  v10 = const 8
  v11 = shru v9, v10
  v12 = const 24
  v13 = shl v9, v12
  v14 = or v11, v13
  v15 = const 65535
  v16 = and v14, v15
  v17 = const 0
  v18 = const -16777216
  v19 = and v9, v18
  v20 = eq v19, v17
  branch v20, b1, b2
b1:
  v21 = add v16, v14
  return v21
b2:
  v22 = xor v16, v14
  return v22
}`);
  const m = programModule((main) => {
    putHex(main, main.call("bits", [main.constant(0x12345678), main.constant(8)]));
    putHex(main, main.call("bits", [main.constant(0x00ff0001), main.constant(36)]));
    putHex(main, main.call("bits", [main.constant(0xabc), main.constant(4)]));
  }, [bits]);
  const linked = compileToImage(m);
  const body = linked.listing.split("\nbits:\n")[1].split(/\n(?=\S)/)[0];
  t.is(body.match(/ rol +e[a-z]+,cl$/gm)?.length, 1);
  t.is(body.match(/ rol +e[a-z]+,18h$/gm)?.length, 1);
  t.regex(body, / test +e[a-z]+,0FF000000h$/m);
  t.regex(body, / movzx +e[a-z]+,[a-d]x$/m);
  t.notRegex(body, / (shl|shr|and) /);
  // rotl(0x12345678, 8) = 0x34567812 (top byte not 0), rotated right by 8: 0x12345678, xor its low half 0x5678;
  // rotl(0x00ff0001, 36 = 4 mod 32) = 0x0ff00010, right by 8: 0x100ff000, xor 0xf000; rotl(0xabc, 4) = 0xabc0
  // (top byte 0), right by 8: 0xc00000ab, plus 0xab
  const r = await boot(writeImage(linked, "rotates"));
  t.is(r.serial, ["12340000", "100f0000", "c0000156", ""].join("\n"));
});

test("a guest's hypercalls call __sysenter_call (mov edi, esp; mov ebp, its ret; sysenter; ret); others int 0x80",
  (t) => {
  const module = programModule((main) => {
    const a = main.binary("add", main.param(0), main.param(1));
    main.intrinsic("hypercall", [main.constant(7), a, main.param(1), main.constant(4), main.param(0)]);
  });
  const text = (image: ReturnType<typeof compileToImage>, name: string) => {
    const s = image.symbols.get(name)!;
    const elf = elfy.parse(Buffer.from(image.elf));
    const section = elf.body.sections.find((x: { name: string }) => x.name === ".text");
    return Buffer.from(section.data).subarray(s.address - section.addr, s.address - section.addr + s.size);
  };
  const guest = compileToImage(module, { stackGuard: "guest", baseAddress: 0x40000000, multiboot: false });
  const stub = guest.symbols.get("__sysenter_call")!;
  const bytes = text(guest, "__sysenter_call");
  const after = Buffer.alloc(4);
  after.writeUInt32LE(stub.address + SYSENTER_CALL_BYTES);
  t.deepEqual([...bytes], [0x8b, 0xfc, 0xbd, ...after, 0x0f, 0x34, 0xc3], "the stub, its ret SYSENTER_CALL_BYTES in");
  t.is(SYSENTER_CALL_BYTES, 9);
  const main = text(guest, "main");
  t.false(main.includes(Buffer.from([0xcd, 0x80])), "no int 0x80 in a guest");
  const calls = [...main.keys()].filter(k => main[k] === 0xe8
    && guest.symbols.get("main")!.address + k + 5 + main.readInt32LE(k + 1) === stub.address);
  t.is(calls.length, 1, "main calls the stub once");
  const program = compileToImage(module);
  t.false(program.symbols.has("__sysenter_call"));
  t.true(text(program, "main").includes(Buffer.from([0xcd, 0x80])), "a program (the kernel) uses int 0x80");
});
