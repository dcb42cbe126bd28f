/**
 * Docs are product: every ```ts block in the READMEs and docs/ runs here, as
 * its own module, with `@holdfast/*` resolved to the sources. A block that
 * needs a server starts one itself; a block that should fail says so with
 * assertions. Fragments that are not programs belong in ```text blocks.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Each example is written next to its README (in a git-ignored `.examples/`)
 * so that it resolves that package's own dependencies (`ws`, `undici`, …)
 * the way a user's program beside the package would.
 */
function outDirFor(markdown: string): string {
  const dir = markdown.startsWith(join(root, 'packages')) ? dirname(markdown) : root;
  return join(dir, '.examples');
}

function markdownFiles(): string[] {
  const files = [join(root, 'README.md')];
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const readme = join(root, 'packages', pkg, 'README.md');
    if (existsSync(readme)) files.push(readme);
  }
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk(join(root, 'docs'));
  return files;
}

function examples(file: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end]!.startsWith('```')) end++;
    out.push({ line: start, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return out;
}

for (const file of markdownFiles()) {
  const blocks = examples(file);
  if (blocks.length === 0) continue;
  const name = relative(root, file);
  const outDir = outDirFor(file);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  describe(`examples in ${name}`, () => {
    for (const { line, code } of blocks) {
      it(`block at line ${line} runs`, async () => {
        const target = join(outDir, `${name.replace(/[^a-z0-9]+/gi, '_')}_${line}.ts`);
        writeFileSync(target, `${code}\nexport {};\n`);
        await expect(import(pathToFileURL(target).href)).resolves.toBeDefined();
      }, 30_000);
    }
  });
}
