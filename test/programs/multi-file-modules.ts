// expect: 8
// expect: 8
// expect: 8
// expect: 0
// expect: 11
// expect: 7
// expect: 200
// expect: -1
// expect: 388930325
// expect: 2195492
// expect: 2
// expect: 1
// expect: 60
// expect: 1
// expect: 0
// Several modules: a ring buffer whose state lives in its module (and an exported `let` read
// through the import), checksums that import ./math.ts themselves, function references passed
// across modules, structs and a const enum defined in another file.
import { i32, u8, u32, print } from "dsl";
import { ringPush, ringPop, ringCount, RING_CAPACITY } from "./lib/ring-buffer.ts";
import { fnvStep, rotateStep, hashBytes, Mixer } from "./lib/checksum.ts";
import { Point, Rectangle, Quadrant, quadrant, area, contains } from "./lib/geometry.ts";

const data = new Uint8Array(12);

export function main(): i32 {
  let accepted: i32 = 0;
  for (let i = 0; i < 10; i++) if (ringPush(u8(i * 11))) accepted++;
  print(accepted);
  print(ringCount);
  print(RING_CAPACITY);
  print(ringPop());
  print(ringPop());
  ringPush(200);
  let drained: i32 = 0;
  let last: i32 = 0;
  while (ringCount > 0) {
    last = ringPop();
    drained++;
  }
  print(drained);
  print(last);
  print(ringPop());
  for (let i = 0; i < data.length; i++) data[i] = 65 + i;
  print(hashBytes(data, data.length, fnvStep, 2166136261));
  const mixer: Mixer = rotateStep;
  const h: u32 = hashBytes(data, 4, mixer, 0);
  print(h);
  const p = new Point();
  p.x = -3;
  p.y = 4;
  print(quadrant(p));
  print(i32(quadrant(p) === Quadrant.Second));
  const r = new Rectangle();
  r.corner.x = -5;
  r.corner.y = 0;
  r.width = 10;
  r.height = 6;
  print(area(r));
  print(contains(r, p));
  p.y = 6;
  print(contains(r, p));
  return 0;
}
