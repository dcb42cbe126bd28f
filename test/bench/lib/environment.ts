/**
 * What a benchmark report must say about where its figures come from: the
 * machine, Node, the commit, and the version of every library installed for
 * the packages (the peers the benches compare against are their
 * devDependencies), read from node_modules rather than from the ranges.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly v8: string;
}

export interface LibraryVersion {
  readonly name: string;
  readonly version: string;
  /** The workspace packages that install it (dependency or devDependency). */
  readonly packages: readonly string[];
}

export interface Environment {
  readonly machine: Machine;
  readonly commit: { readonly sha: string; readonly dirty: boolean } | null;
  readonly holdfast: readonly { readonly name: string; readonly version: string }[];
  readonly libraries: readonly LibraryVersion[];
}

const root = fileURLToPath(new URL('../../../', import.meta.url));

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: (cpus[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
  };
}

function commit(): Environment['commit'] {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // The report's own output does not make the sources it measured dirty.
    const status = execFileSync('git', ['status', '--porcelain', '--', '.', ':!docs/bench'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return { sha, dirty: status.trim() !== '' };
  } catch {
    return null;
  }
}

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

function readManifest(path: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

export function environment(): Environment {
  const packagesDir = join(root, 'packages');
  const holdfast: { name: string; version: string }[] = [];
  const libraries = new Map<string, { name: string; version: string; packages: string[] }>();
  for (const dir of readdirSync(packagesDir).sort()) {
    const manifest = readManifest(join(packagesDir, dir, 'package.json'));
    if (manifest === undefined) continue;
    holdfast.push({ name: manifest.name, version: manifest.version });
    for (const [alias, range] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
      if (range.startsWith('workspace:') || alias.startsWith('@types/')) continue;
      const installed = join(packagesDir, dir, 'node_modules', alias, 'package.json');
      const found = existsSync(installed) ? readManifest(installed) : undefined;
      // An alias (`express4: npm:express@4…`) is listed under the library's own name.
      const name = found?.name ?? alias;
      const version = found?.version ?? `${range} (not installed)`;
      const key = `${name}\0${version}`;
      const entry = libraries.get(key) ?? { name, version, packages: [] };
      entry.packages.push(manifest.name);
      libraries.set(key, entry);
    }
  }
  return {
    machine: machine(),
    commit: commit(),
    holdfast,
    libraries: [...libraries.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version)),
  };
}
