// The command line's strictness (tools/cli-options.ts, issue 21 item 1): every command rejects an unknown
// option (naming the closest one), a missing value and a bad value with exit 2 and a message naming the
// option; `denali COMMAND --help` lists exactly the options the parser accepts (both come from COMMANDS);
// `denali --version` prints the version and the commit. Nothing here boots or builds anything.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../tools/build.ts';
import { COMMANDS, commandHelp, parseCommandLine } from '../tools/cli-options.ts';

const denali = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), ...args], { encoding: 'utf8', cwd: ROOT });

/** Per command: a near miss of one of its options and what it should suggest; a bad value. */
const CASES: Record<string, { typo: string; meant: string; valued: string; bad: string[]; badMessage: RegExp }> = {
  build: {
    typo: '--manifets', meant: '--manifest', valued: '--manifest',
    bad: ['--manifest', '/nonexistent/m.json'], badMessage: /--manifest: no such file/,
  },
  run: {
    typo: '--targte', meant: '--target', valued: '--target',
    bad: ['--target', 'arm', 'x.ts'], badMessage: /--target: --target must be one of/,
  },
  boot: {
    typo: '--host-prot', meant: '--host-port', valued: '--memory',
    bad: ['--memory', 'lots'], badMessage: /--memory: --memory must be a whole number of MiB/,
  },
  debug: {
    typo: '--command', meant: '--commands', valued: '--vm',
    bad: ['--vm', '2'], badMessage: /--vm: --vm needs a --manifest/,
  },
  push: {
    typo: '--cuont', meant: '--count', valued: '--count',
    bad: ['--to', 'ftp://x'], badMessage: /--to: --to must be the control API's URL/,
  },
  vms: {
    typo: '--tp', meant: '--to', valued: '--key',
    bad: ['--to', 'http://127.0.0.1:9', '--key', '/nonexistent/key'], badMessage: /--key: no such file/,
  },
  stop: {
    typo: '--kye', meant: '--key', valued: '--to',
    bad: ['--to', 'nowhere'], badMessage: /--to: --to must be the control API's URL/,
  },
};

test('every command with options is covered by these cases', t => {
  const withOptions = Object.entries(COMMANDS).filter(([, spec]) => spec.options.length > 0).map(([name]) => name);
  t.deepEqual(Object.keys(CASES).sort(), withOptions.sort());
});

for (const command of Object.keys(COMMANDS)) {
  const c = CASES[command];
  test(`${command}: an unknown option${c ? ', a missing value, a bad value' : ''}: exit 2 naming it`, t => {
    const unknown = denali(command, '--bogus-option');
    t.is(unknown.status, 2, unknown.stderr);
    t.regex(unknown.stderr, new RegExp(`^denali ${command}: unknown option '--bogus-option'`, 'm'));
    if (!c) return;
    const typo = denali(command, c.typo);
    t.is(typo.status, 2);
    t.regex(typo.stderr, new RegExp(`unknown option '${c.typo}' \\(did you mean ${c.meant}\\?\\)`));
    const missing = denali(command, c.valued);
    t.is(missing.status, 2);
    t.regex(missing.stderr, new RegExp(`^denali ${command}: ${c.valued} needs a value \\(`, 'm'));
    const bad = denali(command, ...c.bad);
    t.is(bad.status, 2);
    t.regex(bad.stderr, c.badMessage);
    t.regex(bad.stderr, new RegExp(`run 'denali ${command} --help'`));
  });

  test(`${command} --help lists exactly the options its parser accepts`, t => {
    const help = denali(command, '--help');
    t.is(help.status, 0, help.stderr);
    t.is(help.stdout.trim(), commandHelp(command));
    const listed = [...help.stdout.split('options:')[1].matchAll(/^ {2}(-\S+)/gm)].map(m => m[1]);
    t.deepEqual(listed, [...COMMANDS[command].options.map(o => o.flag), '--help']);
    for (const o of COMMANDS[command].options) {
      const parsed = parseCommandLine(command, o.value === undefined ? [o.flag] : [o.flag, 'x']);
      t.false(parsed instanceof Error, `${o.flag}: ${parsed instanceof Error ? parsed.message : ''}`);
      if (!(parsed instanceof Error)) t.is(parsed.options.get(o.flag), o.value === undefined ? true : 'x');
    }
    // And nothing else: a near miss of each listed option is refused.
    for (const o of COMMANDS[command].options) t.true(parseCommandLine(command, [`${o.flag}x`]) instanceof Error);
  });
}

test('exclusive options, a value given to a flag and an extra argument are refused', t => {
  t.regex(String(parseCommandLine('boot', ['--cdrom', '--usb'])), /--cdrom and --usb exclude each other/);
  t.regex(String(parseCommandLine('build', ['--no-iso=yes'])), /--no-iso takes no value/);
  t.regex(String(parseCommandLine('run', ['a.ts', 'b.ts'])), /unexpected argument 'b.ts'/);
  t.regex(String(parseCommandLine('boot', ['extra'])), /unexpected argument 'extra'/);
  const equals = parseCommandLine('boot', ['--memory=256', '-h']);
  t.false(equals instanceof Error);
  if (!(equals instanceof Error)) { t.is(equals.options.get('--memory'), '256'); t.true(equals.help); }
});

test('--version prints the version and the commit', t => {
  const r = denali('--version');
  t.is(r.status, 0, r.stderr);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const head = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  t.is(r.stdout.trim(), `denali-ts ${version} (commit ${head})`);
});

test('an unknown command exits 2 with the overall help', t => {
  const r = denali('flash');
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown command 'flash'/);
  for (const command of Object.keys(COMMANDS)) t.regex(r.stderr, new RegExp(`denali ${command} `));
});
