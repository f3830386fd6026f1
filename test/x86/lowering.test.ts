// Contract: unit checks of the x86 lowering that need no QEMU boot (frame layout, label aliasing), plus one boot of a
// control-flow-heavy function.

import test from "ava";
import { layoutFrame } from "../../compiler/x86/index.ts";
import type { Function as IrFunction } from "../../compiler/ir.ts";
import { compileToImage } from "../../compiler/link/index.ts";
import { compileAndBoot, programModule, testFunction, putHex } from "./helpers.ts";

const fn = (params: number, vregCount: number, slots: [number, number][]): IrFunction => ({
  name: "f", params, returnsValue: false, vregCount, slots: slots.map(([size, align], i) => ({ size, align, name: `s${i}` })),
  blocks: [{ id: 0, instrs: [], term: { op: "return", value: null } }],
});

test("frame layout: params above ebp, vregs below, slots aligned given ebp = 8 (mod 16), size = 8 (mod 16)", (t) => {
  const f = layoutFrame(fn(2, 5, [[1, 1], [16, 16], [8, 8], [6, 2]]));
  t.is(f.vregOffset(0), 8);
  t.is(f.vregOffset(1), 12);
  t.is(f.vregOffset(2), -4);
  t.is(f.vregOffset(4), -12);
  const ebp = 0x1000 + 8;
  const aligns = [1, 16, 8, 2];
  f.slotOffsets.forEach((off, i) => t.is((ebp + off) % aligns[i], 0, `slot ${i}`));
  t.true(f.slotOffsets.every((off) => off <= -12 - 1));
  t.is(f.size % 16, 8);
  t.true(f.size >= -Math.min(...f.slotOffsets));
  t.is(layoutFrame(fn(0, 0, [])).size, 8);
  t.throws(() => layoutFrame(fn(0, 0, [[4, 32]])), { message: /alignment 32/ });
  t.throws(() => f.vregOffset(5), { message: /out of range/ });
});

/** Empty blocks that only fall through or jump produce no instructions: their labels alias the next instruction. */
function chain(): IrFunction {
  const f = testFunction("chain", 1, true);
  // block k on line k + 1 (the listing shows it)
  const [b1, b2, b3, b4, b5] = [2, 3, 4, 5, 6].map(line => f.newBlock({ file: "chain.ts", line, column: 1 }));
  f.jump(b1);                       // falls through, empty block 0
  f.switchTo(b1); f.jump(b2);       // empty, falls through
  f.switchTo(b2); f.branch(f.param(0), b3, b3); // both ways to the next block
  f.switchTo(b3); f.branch(f.binary("eq", f.param(0), f.constant(5)), b5, b4);
  f.switchTo(b4); f.jump(b5);       // empty, falls into b5
  f.switchTo(b5); f.ret(f.binary("add", f.param(0), f.constant(100)));
  return f.finish();
}

test("empty blocks and fall-through jumps encode and run", async (t) => {
  const r = await compileAndBoot(programModule((main) => {
    putHex(main, main.call("chain", [main.constant(5)]));
    putHex(main, main.call("chain", [main.constant(0)]));
  }, [chain()]), "chain");
  t.is(r.exitCode, 0);
  t.is(r.serial, "00000069\n00000064\n");
  t.regex(r.image.listing, /; block 0 {2}; chain\.ts:1\n {2}; block 1 {2}; chain\.ts:2\n {2}; block 2/);
});

test("compileToImage is deterministic", (t) => {
  const m = programModule((main) => putHex(main, main.call("chain", [main.constant(1)])), [chain()]);
  t.deepEqual(compileToImage(m).elf, compileToImage(m).elf);
});

test("stack probes: a frame of a page or more reads each page it spans, top down, before any write", (t) => {
  const number = (x: string): number => x.endsWith("h") ? parseInt(x.slice(0, -1), 16) : Number(x);
  for (const registerAllocation of [false, true]) {
    for (const size of [100, 4000, 4096, 10000, 40000]) {
      const f = testFunction("big", 0, false);
      f.store(1, f.slotAddress(f.newSlot(size, 16, "big")), f.constant(7));
      f.ret(null);
      const listing = compileToImage(programModule((main) => main.callVoid("big", []), [f.finish()]),
        { registerAllocation }).listing;
      const body = listing.slice(listing.indexOf("\nbig:"), listing.indexOf("\n\n", listing.indexOf("\nbig:")));
      const name = `${size} bytes, registerAllocation ${registerAllocation}`;
      const frame = number(/sub\s+esp,(\w+)/.exec(body)?.[1] ?? "0");
      const afterSub = body.slice(body.search(/sub\s+esp,/));
      const probes = [...afterSub.matchAll(/test\s+\[esp(?:\+(\w+))?\],eax/g)]
        .map(m => m[1] === undefined ? 0 : number(m[1]));
      t.true(frame >= size, `${name}: frame ${frame}`);
      if (frame < 4096) { t.deepEqual(probes, [], name); continue; }
      // From within a page under the caller's esp (esp + frame) down to the new esp, at most a page apart.
      t.is(probes[probes.length - 1], 0, `${name}: the last probe is at the new esp`);
      t.true(frame - probes[0] <= 4096, `${name}: the first probe within a page of the old esp`);
      t.true(probes.every((p, i) => i === 0 || (probes[i - 1] > p && probes[i - 1] - p <= 4096)), `${name}: ${probes}`);
      // Nothing is written between the sub and the last probe.
      const beforeLastProbe = afterSub.slice(0, afterSub.lastIndexOf("test"));
      t.false(/mov\s+(byte ptr |dword ptr )?\[/.test(beforeLastProbe), `${name}: a store first`);
    }
  }
});
