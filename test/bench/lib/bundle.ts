import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';

/**
 * Bundles `packages/<name>/src/index.ts` with core the way the published
 * package is built (esbuild through tsup), for the memory benchmarks: run
 * through tsx instead, every arrow function would also carry the `name`
 * property tsx adds (its keepNames option), memory per connection that no
 * user of the package pays. Returns the path of `<outDir>/holdfast-<name>.mjs`.
 */
export async function bundlePackage(name: string, outDir: string, external: string[] = []): Promise<string> {
  await build({
    entry: { [`holdfast-${name}`]: fileURLToPath(new URL(`../../../packages/${name}/src/index.ts`, import.meta.url)) },
    outDir,
    format: ['esm'],
    outExtension: () => ({ js: '.mjs' }),
    platform: 'node',
    target: 'node20',
    noExternal: [/^@holdfast\//],
    external,
    tsconfig: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)),
    dts: false,
    sourcemap: false,
    clean: true,
    silent: true,
    config: false,
  });
  return join(outDir, `holdfast-${name}.mjs`);
}
