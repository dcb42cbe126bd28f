/**
 * The README's vitest example (blocks fenced as ```ts vitest) is a real test
 * file: it is written out and imported while this file is collected, so its
 * hooks and tests register with vitest and run here like any other.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(packageDir, '..', '..', '.cache', 'chaos-readme');
const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```ts vitest\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
if (blocks.length === 0) throw new Error('packages/chaos/README.md has no ```ts vitest block to run');

mkdirSync(outDir, { recursive: true });
for (const [index, code] of blocks.entries()) {
  const file = join(outDir, `readme-${index}.ts`);
  writeFileSync(file, code);
  await import(pathToFileURL(file).href);
}
