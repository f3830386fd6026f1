// `denali doctor` (tools/doctor.ts, issue 21 item 2): on this machine every feature is ready (tap
// networking as far as the tap tests find it usable); with qemu-system-i386 taken off PATH the doctor
// reports QEMU not ready with the package to install and exits 1, and `denali boot` refuses with a
// message that points to the doctor (exit 2) instead of failing somewhere inside.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from '../tools/build.ts';
import { tapUnavailable } from '../tools/net.ts';

const denali = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), ...args], { encoding: 'utf8', cwd: ROOT, env });

/** The doctor's verdict per feature: "ready" or "NOT READY". */
function verdicts(stdout: string): Map<string, string> {
  return new Map([...stdout.matchAll(/^doctor: (.+): (ready|NOT READY)/gm)].map(m => [m[1], m[2]]));
}

test('on this machine every feature is ready (tap networking where the tap tests can run)', t => {
  const r = denali(['doctor']);
  const v = verdicts(r.stdout);
  t.is(v.size, 8, r.stdout);
  const tapFeature = [...v.keys()].find(k => k.startsWith('tap networking'))!;
  const tapWhy = tapUnavailable();
  for (const [feature, verdict] of v) {
    t.is(verdict, feature === tapFeature && tapWhy ? 'NOT READY' : 'ready', `${feature}\n${r.stdout}`);
  }
  t.is(r.status, tapWhy ? 1 : 0);
  t.regex(r.stdout, new RegExp(`^doctor: ${tapWhy ? 7 : 8} of 8 features ready`, 'm'));
});

test('without qemu on PATH: QEMU not ready with its package, exit 1; boot points to the doctor', t => {
  // A PATH of links to every executable on PATH but QEMU's.
  const bin = mkdtempSync(join(tmpdir(), 'denali-doctor-'));
  try {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir || !existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        if (name.startsWith('qemu-system') || existsSync(join(bin, name))) continue;
        symlinkSync(join(dir, name), join(bin, name));
      }
    }
    const env = { ...process.env, PATH: bin };
    const r = denali(['doctor'], env);
    t.is(r.status, 1, r.stdout);
    t.regex(r.stdout, /^doctor: QEMU \(boot, run --target qemu, the tests\): NOT READY$/m);
    t.regex(r.stdout, /^ {2}- qemu-system-i386 missing: apt-get install qemu-system-x86$/m);
    t.regex(r.stdout, /^doctor: toolchain .*: ready/m);
    const boot = denali(['boot', '--timeout', '5'], env);
    t.is(boot.status, 2);
    t.regex(boot.stderr,
      /qemu-system-i386 is not installed \(Debian: apt-get install qemu-system-x86\); 'npx denali doctor'/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
