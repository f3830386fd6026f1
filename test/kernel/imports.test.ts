// Contract: the scheduler is on no import cycle of the kernel (issue 13: its report lives in
// kernel-src/vmreport.ts, reached through a hook, so scheduler -> switch -> vinterrupt -> scheduler is
// gone). Reads the `import ... from "./x.ts"` lines of kernel-src/ and searches the graph.
import test from "ava";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../tools/build.ts";

const KERNEL = join(ROOT, "kernel-src");

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of readdirSync(KERNEL).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(join(KERNEL, file), "utf8");
    graph.set(file, [...text.matchAll(/from "\.\/([\w-]+\.ts)"/g)].map((m) => m[1]));
  }
  return graph;
}

/** A path of imports from `start` back to itself, or null. */
function cycleThrough(graph: Map<string, string[]>, start: string): string[] | null {
  const seen = new Set<string>();
  const walk = (file: string, path: string[]): string[] | null => {
    for (const next of graph.get(file) ?? []) {
      if (next === start) return [...path, next];
      if (seen.has(next)) continue;
      seen.add(next);
      const found = walk(next, [...path, next]);
      if (found) return found;
    }
    return null;
  };
  return walk(start, [start]);
}

test("the scheduler, the switch and vinterrupt are on no import cycle", (t) => {
  const graph = importGraph();
  t.true(graph.has("scheduler.ts") && graph.get("vinterrupt.ts")!.includes("scheduler.ts"));
  for (const file of ["scheduler.ts", "switch.ts", "vinterrupt.ts", "vmreport.ts"])
    t.is(cycleThrough(graph, file), null, file);
  // The search itself finds a cycle when there is one.
  t.deepEqual(cycleThrough(new Map([["a.ts", ["b.ts"]], ["b.ts", ["a.ts"]]]), "a.ts"), ["a.ts", "b.ts", "a.ts"]);
});
