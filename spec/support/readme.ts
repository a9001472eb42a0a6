/**
 * Code blocks of README.md, read from the file itself so the specs check what
 * readers copy, not a second copy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const README = join(__dirname, '..', '..', 'README.md');

/** The first ```ts block after the heading line `heading` (e.g. `## Quickstart`). */
export function readmeBlock(heading: string): string {
  const lines = readFileSync(README, 'utf8').split('\n');
  const at = lines.findIndex((line) => line.trim() === heading);
  if (at < 0) throw new Error(`README.md has no heading '${heading}'`);
  const open = lines.findIndex((line, i) => i > at && line.trim() === '```ts');
  const close = lines.findIndex((line, i) => i > open && line.trim() === '```');
  if (open < 0 || close < 0) throw new Error(`README.md has no \`\`\`ts block after '${heading}'`);
  const nextHeading = lines.findIndex((line, i) => i > at && /^#{1,6} /.test(line));
  if (nextHeading >= 0 && nextHeading < open) throw new Error(`the section '${heading}' of README.md has no \`\`\`ts block`);
  return `${lines.slice(open + 1, close).join('\n')}\n`;
}

const CODE_LANGS = new Set(['ts', 'typescript', 'mts', 'cts', 'tsx', 'js', 'javascript', 'mjs', 'cjs', 'jsx']);

/**
 * Every TypeScript or JavaScript block of README.md (```ts, ```js and their
 * aliases), as its language, the heading line it follows and its place among
 * such blocks under that heading (1 for the first).
 */
export function readmeCodeBlocks(): Array<{ lang: string; heading: string; place: number }> {
  const blocks: Array<{ lang: string; heading: string; place: number }> = [];
  let heading = '';
  let place = 0;
  let inFence = false;
  for (const line of readFileSync(README, 'utf8').split('\n')) {
    const trimmed = line.trim();
    if (inFence) {
      if (trimmed === '```') inFence = false;
    } else if (trimmed.startsWith('```')) {
      inFence = true;
      const lang = trimmed.slice(3).trim().split(/\s/)[0].toLowerCase();
      if (CODE_LANGS.has(lang)) blocks.push({ lang, heading, place: (place += 1) });
    } else if (/^#{1,6} /.test(line)) {
      heading = trimmed;
      place = 0;
    }
  }
  return blocks;
}
