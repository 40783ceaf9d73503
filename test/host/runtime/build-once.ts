// Builds dist/ (tsconfig.build.json) when the compiled CLI is older than any host source, so test files that
// spawn the CLI don't rebuild on every run. tsc still emits when unrelated files have type errors.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../..');
export const cliPath = path.join(repoRoot, 'dist/local/host/cli.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

export function buildHostOnce(): void {
  const built = fs.existsSync(cliPath) ? fs.statSync(cliPath).mtimeMs : 0;
  if (built > newestMtime(path.join(repoRoot, 'local/host'))) return;
  try {
    execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: repoRoot,
      stdio: 'pipe',
    });
  } catch {
    // Type errors elsewhere in the repo do not stop emit; a missing CLI below does.
  }
  if (!fs.existsSync(cliPath) || fs.statSync(cliPath).mtimeMs < built) throw new Error(`build did not produce ${cliPath}`);
}
