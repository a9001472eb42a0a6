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
