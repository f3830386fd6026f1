// Struct types and a const enum exported for other modules.
import { i32 } from "dsl";

export const enum Quadrant { Origin, First, Second, Third, Fourth, Axis }

export class Point { x: i32 = 0; y: i32 = 0; }

export class Rectangle { corner = new Point(); width: i32 = 0; height: i32 = 0; }

export function quadrant(p: Point): i32 {
  if (p.x === 0 && p.y === 0) return Quadrant.Origin;
  if (p.x === 0 || p.y === 0) return Quadrant.Axis;
  if (p.x > 0) return p.y > 0 ? Quadrant.First : Quadrant.Fourth;
  return p.y > 0 ? Quadrant.Second : Quadrant.Third;
}

export function area(r: Rectangle): i32 { return Math.imul(r.width, r.height); }

export function contains(r: Rectangle, p: Point): i32 {
  return p.x >= r.corner.x && p.x < r.corner.x + r.width && p.y >= r.corner.y && p.y < r.corner.y + r.height ? 1 : 0;
}
