// publint and @arethetypeswrong/cli over every publishable package (run after build).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const bin = (name) => join('node_modules', '.bin', name);
let failed = false;
for (const dir of readdirSync('packages')) {
  const pkgDir = join('packages', dir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  for (const [cmd, args] of [
    [bin('publint'), ['run', pkgDir, '--strict']],
    [bin('attw'), ['--pack', pkgDir, '--profile', 'node16', '--format', 'table-flipped']],
  ]) {
    try {
      execFileSync(cmd, args, { stdio: 'inherit' });
    } catch {
      console.error(`check-packages: ${cmd} failed for ${pkg.name}`);
      failed = true;
    }
  }
}
if (failed) process.exit(1);
