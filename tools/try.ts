import { compile } from '../compiler/pipeline.ts';
import { formatDiagnostic } from '../compiler/frontend/diagnostics.ts';
import { printModule } from '../compiler/print.ts';
import { runModule } from '../compiler/bytecode/interpreter.ts';
const r = compile({ files: [process.argv[2]] });
if (!r.module) { console.log(r.diagnostics.map(formatDiagnostic).join('\n')); process.exit(2); }
if (process.argv[3]) console.log(printModule(r.module));
const out = runModule(r.module);
console.log(JSON.stringify(out));
