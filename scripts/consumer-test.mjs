// The consumer test (issue 15): pack every package as it would be published, install the tarballs into a scratch
// project that already holds its own undici, ws, axios, express, mongoose, p-retry, opossum and OpenTelemetry SDK, at the lowest and
// at the highest versions holdfast's ranges accept, and check what a user would meet:
//   - `npm ls --all` is clean (every peer satisfied) and each shared library is installed once;
//   - an ES module and a CommonJS script use every package under real faults (scripts/consumer/);
//   - `tsc --noEmit` (skipLibCheck off) type-checks code that hands holdfast the project's own instances.
// The scratch project lives outside the repository, so nothing resolves from the workspace's node_modules.
//
//   node scripts/consumer-test.mjs [--profiles lowest,highest] [--no-build] [--keep]
//
// Runs with the `node` it is started with; undici 8 and p-retry 8-9 need Node 22 and are chosen where it allows.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : args[at + 1];
};

const [major, minor] = process.versions.node.split('.').map(Number);
// undici 8's engines: >=22.19.0; p-retry 8 and 9: >=22.
const undici8 = major > 22 || (major === 22 && minor >= 19);
const pRetry9 = major >= 22;

/**
 * What the scratch project itself depends on, before holdfast joins it. `lowest` is the bottom of every range
 * holdfast publishes; `highest` lets npm pick the newest version each range allows on this Node.
 */
const PROFILES = {
  lowest: {
    undici: '7.0.0',
    ws: '8.0.0',
    '@types/ws': '8.5.0',
    axios: '1.6.0',
    express: '4.17.0',
    '@types/express': '4.17.0',
    ioredis: '5.0.0',
    mongoose: '8.0.0',
    opossum: '8.0.0',
    'p-retry': '7.0.0',
    // The oldest Node's types: mongoose 8.0.0's own declarations do not compile against @types/node 24.
    '@types/node': '20.19.0',
    '@opentelemetry/api': '1.9.0',
    '@opentelemetry/sdk-node': '0.221.0',
    '@grpc/grpc-js': '1.14.3',
  },
  highest: {
    undici: undici8 ? '^8.0.0' : '^7.0.0',
    ws: '^8.0.0',
    '@types/ws': '^8.5.0',
    axios: '^1.6.0',
    express: '^5.0.0',
    '@types/express': '^5.0.0',
    ioredis: '^5.0.0',
    mongoose: '^9.0.0',
    opossum: '^9.0.0',
    'p-retry': pRetry9 ? '^9.0.0' : '^7.0.0',
    '@types/node': `^${major}.0.0`,
    '@opentelemetry/api': '~1.9.0',
    '@opentelemetry/sdk-node': '>=0.221.0 <0.300.0',
    '@grpc/grpc-js': '^1.14.3',
  },
};

/** Libraries a project and holdfast share: each must be installed once. */
const SHARED = [
  '@holdfast/core',
  'undici',
  'ws',
  '@types/ws',
  'axios',
  'express',
  'ioredis',
  'mongoose',
  'mongodb',
  'bson',
  'opossum',
  'p-retry',
  '@grpc/grpc-js',
  '@opentelemetry/api',
  '@opentelemetry/core',
  '@opentelemetry/otlp-exporter-base',
  '@opentelemetry/otlp-grpc-exporter-base',
  '@opentelemetry/otlp-transformer',
  '@opentelemetry/exporter-metrics-otlp-http',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/sdk-logs',
  '@opentelemetry/resources',
];

const CLI = 'holdfast';

const profiles = option('--profiles', 'lowest,highest').split(',');
for (const name of profiles) if (!(name in PROFILES)) throw new Error(`consumer-test: unknown profile '${name}' (lowest, highest)`);

function run(command, commandArgs, cwd, capture = false) {
  return execFileSync(command, commandArgs, {
    cwd,
    stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
}

const pnpm = (pnpmArgs, cwd) => run('npx', ['-y', 'pnpm@9.15.9', ...pnpmArgs], cwd, true);

console.log(`== consumer test on Node ${process.version} (undici ${undici8 ? 8 : 7} at the top of its range, p-retry ${pRetry9 ? 9 : 7})`);
if (!flag('--no-build')) {
  console.log('-- build');
  pnpm(['build'], root);
}

// Packed as they would be published: `workspace:^` becomes a version range, only `files` are included.
const work = mkdtempSync(join(tmpdir(), 'holdfast-consumer-'));
for (let dir = dirname(work); dir !== dirname(dir); dir = dirname(dir)) {
  if (existsSync(join(dir, 'node_modules')))
    throw new Error(`consumer-test: ${dir}/node_modules would be visible to the scratch project; clean it or set TMPDIR`);
}
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
const packed = {};
for (const dir of readdirSync(join(root, 'packages')).sort()) {
  const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  pnpm(['pack', '--pack-destination', tarballs], join(root, 'packages', dir));
  const file = readdirSync(tarballs).find((f) => f.startsWith(`${pkg.name.replace('@', '').replace('/', '-')}-`));
  if (file === undefined) throw new Error(`consumer-test: no tarball for ${pkg.name}`);
  packed[pkg.name] = file;
}
console.log(`-- packed ${Object.keys(packed).join(', ')}`);

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
let failed = false;
for (const profile of profiles) {
  const project = join(work, profile);
  mkdirSync(project);
  const own = PROFILES[profile];
  // First the project as it was (its own libraries, installed), then holdfast added to it, as a user would.
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: `holdfast-consumer-${profile}`, private: true, dependencies: own }, null, 2)}\n`,
  );
  for (const file of readdirSync(join(root, 'scripts', 'consumer'))) cpSync(join(root, 'scripts', 'consumer', file), join(project, file));
  console.log(
    `\n-- ${profile}: npm install ${Object.entries(own)
      .map(([n, v]) => `${n}@${v}`)
      .join(' ')}`,
  );
  try {
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], project);
    // Added to the project's package.json, then `npm install` over its existing tree and lockfile. The packed
    // packages depend on each other by version: overrides point those at the tarballs too (the same spec, as npm wants).
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    const specs = Object.fromEntries(
      Object.entries(packed)
        .filter(([name]) => name !== CLI)
        .map(([name, file]) => [name, `file:../tarballs/${file}`]),
    );
    Object.assign(manifest.dependencies, specs);
    manifest.overrides = specs;
    writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    console.log(`   + ${Object.keys(specs).join(' ')} (the packed tarballs)`);
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], project);
    const versions = {};
    for (const name of Object.keys(own))
      versions[name] = JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8')).version;
    console.log(
      `   installed ${Object.entries(versions)
        .map(([n, v]) => `${n} ${v}`)
        .join(', ')}`,
    );

    // `npm ls` exits non-zero on a missing or invalid peer; --long gives each copy's path.
    const tree = JSON.parse(run('npm', ['ls', '--all', '--long', '--json'], project, true));
    const copies = new Map();
    const walk = (node) => {
      for (const [name, child] of Object.entries(node.dependencies ?? {})) {
        if (child.path !== undefined) {
          if (!copies.has(name)) copies.set(name, new Map());
          copies.get(name).set(child.path, child.version);
        }
        walk(child);
      }
    };
    walk(tree);
    const doubled = SHARED.filter((name) => (copies.get(name)?.size ?? 0) > 1).map(
      (name) => `${name}: ${[...copies.get(name)].map(([path, version]) => `${version} at ${path.slice(project.length + 1)}`).join('; ')}`,
    );
    const missing = SHARED.filter((name) => !copies.has(name));
    if (doubled.length > 0) throw new Error(`more than one copy:\n   ${doubled.join('\n   ')}`);
    console.log(
      `   one copy each of ${SHARED.length - missing.length} shared libraries${missing.length > 0 ? ` (not installed here: ${missing.join(', ')})` : ''}`,
    );

    console.log('   ESM:');
    run(process.execPath, ['esm.mjs'], project);
    console.log('   CommonJS:');
    run(process.execPath, ['cjs.cjs'], project);
    console.log('   types: tsc --noEmit, skipLibCheck off');
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    console.log(`-- ${profile}: passed`);
  } catch (error) {
    failed = true;
    console.error(`-- ${profile}: FAILED: ${error.message}`);
  }
}

// The CLI is an application: users run it with npx or install it on its own, not beside their libraries. Installed
// alone from its tarball (its holdfast dependencies from theirs), its bin must start and run a demo scenario.
if (packed[CLI] !== undefined) {
  const project = join(work, 'cli');
  mkdirSync(project);
  const specs = Object.fromEntries(Object.entries(packed).map(([name, file]) => [name, `file:../tarballs/${file}`]));
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'holdfast-consumer-cli', private: true, dependencies: { [CLI]: specs[CLI] }, overrides: specs }, null, 2)}\n`,
  );
  console.log('\n-- the CLI, installed on its own');
  try {
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], project);
    const help = run(join(project, 'node_modules', '.bin', 'holdfast'), ['--help'], project, true);
    if (!/demo/.test(help) || !/diagnose/.test(help)) throw new Error(`holdfast --help does not name its commands:\n${help}`);
    const out = run(join(project, 'node_modules', '.bin', 'holdfast'), ['demo', '--scenario', 'http-get', '--json'], project, true);
    if (!JSON.stringify(JSON.parse(out)).includes('http-get')) throw new Error(`holdfast demo --json printed no http-get result:\n${out}`);
    console.log('   holdfast --help, holdfast demo --scenario http-get: passed');
  } catch (error) {
    failed = true;
    console.error(`-- the CLI: FAILED: ${error.message}`);
  }
}

if (flag('--keep')) console.log(`\nscratch projects kept in ${work}`);
else rmSync(work, { recursive: true, force: true });
if (failed) process.exit(1);
console.log(`\n== consumer test passed on Node ${process.version}: ${profiles.join(', ')}`);
