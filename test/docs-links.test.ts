// Every link in README.md and docs/*.md resolves (issue 21 item 3): a relative link names a file or
// directory that exists, and a #fragment names a heading of the target (GitHub's anchors: lower case,
// punctuation dropped, spaces to hyphens). Links to the web are not fetched. Fails on a moved page or a
// renamed heading.
import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT } from '../tools/build.ts';

const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter(f => f.endsWith('.md')).map(f => `docs/${f}`)];

/** GitHub's anchor of a heading's text. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings (outside code blocks). */
function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/^```[^]*?^```/gm, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map(m => slug(m[1])));
}

/** The targets of a page's Markdown links and images, outside code blocks and code spans. */
function links(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/^```[^]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map(m => m[1]);
}

test('README.md and docs/ have pages to check, and links in them', t => {
  t.true(pages.includes('docs/figures.md') && pages.includes('docs/hardware.md'));
  t.true(links(join(ROOT, 'README.md')).some(l => l.startsWith('docs/figures.md#')));
});

for (const page of pages) {
  test(`every link of ${page} resolves`, t => {
    const file = join(ROOT, page);
    const broken: string[] = [];
    for (const target of links(file)) {
      if (/^(https?|mailto):/.test(target)) continue;
      const [path, fragment] = target.split('#');
      const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (!existsSync(resolved)) { broken.push(`${target}: no ${relative(ROOT, resolved)}`); continue; }
      if (fragment !== undefined && !statSync(resolved).isDirectory() && resolved.endsWith('.md')
        && !anchors(resolved).has(fragment)) {
        broken.push(`${target}: no heading #${fragment} in ${relative(ROOT, resolved)}`);
      }
    }
    t.deepEqual(broken, []);
  });
}
