/**
 * README.md is the front page (issue 22): short, and every relative link in it and in docs/*.md leads to
 * a file that exists, so a page that moves or is renamed fails here instead of leaving a dead link.
 * Anchors (`#…`) are not checked: GitHub's heading slugs are not worth re-implementing for this.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = join(import.meta.dirname, '..');
const README_MAX_LINES = 220;

/** The relative link targets of a markdown text, outside fenced code blocks and inline code, without anchors. */
function relativeLinks(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let fenced = false;
  markdown.split('\n').forEach((text, i) => {
    if (/^\s*(```|~~~)/.test(text)) {
      fenced = !fenced;
      return;
    }
    if (fenced || /^( {4}|\t)/.test(text)) return; // fenced or indented code
    const prose = text.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const raw = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(raw) || raw.startsWith('#')) continue; // https:, mailto:, in-page anchors
      const target = decodeURIComponent(raw.split('#')[0].split('?')[0]);
      if (target) out.push({ target, line: i + 1 });
    }
  });
  return out;
}

/** Links of `file` (relative to the repository root) whose target does not exist, as "file:line → target". */
function deadLinks(file: string): string[] {
  const abs = join(root, file);
  return relativeLinks(readFileSync(abs, 'utf8'))
    .filter((l) => !existsSync(resolve(dirname(abs), l.target)))
    .map((l) => `${file}:${l.line} → ${l.target}`);
}

const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => relative(root, join(root, 'docs', f)))];

test(`README.md is a front page: at most ${README_MAX_LINES} lines (the rest lives in docs/ and the src/*/README.md pages)`, () => {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length;
  assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines; move detail to docs/ and link it`);
});

test('every relative link in README.md and docs/*.md points to a file that exists', () => {
  assert.ok(pages.length > 1, 'docs/*.md found');
  const dead = pages.flatMap(deadLinks);
  assert.deepEqual(dead, [], `dead links:\n${dead.join('\n')}`);
});

test('the link check finds links and catches a dead one', () => {
  const md = [
    'See [ingest](docs/ingest.md#reader), [up](../README.md), [web](https://example.org/x) and [here](#top).',
    '`[not a link](nowhere.md)` in code',
    '```',
    '[also not](nowhere.md)',
    '```',
    '[dead](docs/no-such-page.md "title")',
  ].join('\n');
  assert.deepEqual(relativeLinks(md), [
    { target: 'docs/ingest.md', line: 1 },
    { target: '../README.md', line: 1 },
    { target: 'docs/no-such-page.md', line: 6 },
  ]);
  const exists = (t: string) => existsSync(resolve(root, t));
  assert.ok(exists('docs/ingest.md') && !exists('docs/no-such-page.md'));
});
