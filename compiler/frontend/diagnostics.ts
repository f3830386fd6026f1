// Diagnostics in tsc's format: `file:line:col - error CODE: message`. Never a stack trace for user errors.
import { relative } from 'node:path';

export interface Diagnostic {
  file: string; line: number; column: number; code: string; message: string;
  /** The offending syntax as offsets into the file's text, where the checker knows it (editors underline it). */
  span?: { start: number; length: number };
}

export class CompileError extends Error {
  constructor(public diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
  }
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${displayPath(d.file)}:${d.line}:${d.column} - error ${d.code}: ${d.message}`;
}
