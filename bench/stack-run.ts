/**
 * What the simulator benchmarks (pipeline-bench.ts, chaos-bench.ts) do the same way: start a fresh `npm start` stack in a
 * temporary state folder, lay out the VM burst, run each measured case in a child process of the benchmark itself and
 * read its result from the child's last stdout line, write the raw figures, and end the process with the outcome.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { OsKind } from '../local/demo/session';
import { DEMO_RESOURCE_GROUP, startLocalStack, type LocalStack } from '../local/start/stack';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const REGIONS = ['westeurope', 'northeurope', 'eastus'];

/** Runs `work` over `items`, at most `limit` at a time. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

/** The burst: `count` VMs named `<prefix>-win-<i>` / `<prefix>-lnx-<i>`, half Windows, half Linux, over three regions. */
export function vmSpecs(prefix: string, count: number): Array<{ name: string; os: OsKind; location: string; resourceGroup: string }> {
  return Array.from({ length: count }, (_, i) => ({
    name: `${prefix}-${i % 2 === 0 ? 'win' : 'lnx'}-${i}`,
    os: (i % 2 === 0 ? 'Windows' : 'Linux') as OsKind,
    location: REGIONS[i % REGIONS.length]!,
    resourceGroup: DEMO_RESOURCE_GROUP,
  }));
}

/**
 * A fresh stack (simulator in this process, host child on the built app) in a new temporary folder, with no local
 * settings file and the app settings `env` (ADE_TAG_OUTCOME=false and the mode among them).
 */
export async function startBenchStack(options: {
  label: string;
  speed: number;
  env: Record<string, string>;
  hostLogLevel: 'information' | 'warning';
  /** The simulator's fault draws (chaos `--seed`); Math.random when absent. */
  faultRandom?: () => number;
}): Promise<{ stateRoot: string; stack: LocalStack }> {
  const stateRoot = mkdtempSync(path.join(tmpdir(), `${options.label}-`));
  const stack = await startLocalStack({
    repoRoot: REPO_ROOT,
    stateRoot,
    hostPort: 0,
    simPort: 0,
    speed: options.speed,
    localSettingsFile: path.join(stateRoot, 'no-local-settings.json'),
    env: options.env,
    hostLogLevel: options.hostLogLevel,
    ...(options.faultRandom ? { faultRandom: options.faultRandom } : {}),
  });
  return { stateRoot, stack };
}

/**
 * Runs this benchmark script again in a child process with `args` (its own simulator CA, proxy and SDK / MSAL connection
 * pools, which are process-wide, and no memory carried over) and resolves with the JSON of the child's last stdout line.
 */
export function runInChild<T>(script: string, args: readonly string[], label: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.once('exit', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as T);
      else reject(new Error(`${label} exited ${code}`));
    });
  });
}

/** Writes the raw figures so far (after each case, so a later failure keeps them); `extra` adds other result lists. */
export function writeRawFigures(out: string, results: readonly unknown[], extra: Record<string, unknown> = {}): void {
  mkdirSync(path.dirname(out), { recursive: true });
  const body = { measuredAt: new Date().toISOString(), node: process.version, results, ...extra };
  writeFileSync(out, `${JSON.stringify(body, null, 2)}\n`);
}

/** Runs a benchmark's main and exits 0, or 1 with `<name> failed: <stack>` on stderr. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
