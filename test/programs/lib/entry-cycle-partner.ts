// The partner of entry-cycle.ts: it imports the entry file back (an import cycle through the entry).
import { bump } from "../entry-cycle.ts";

export function addFive(): void { bump(); }
