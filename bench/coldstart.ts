/**
 * Cold-start benchmark: `npm run bench:coldstart -- [--rounds 7] [--out FILE]`.
 *
 * What the Functions Node worker does first on a new instance is load the app's entry points. This measures, in one
 * run, the time to load them in a fresh Node process two ways, alternating so both see the same machine load:
 *
 *  - **unbundled**: every `dist/functions/*.js` of the tsc build, resolving the SDKs from node_modules;
 *  - **bundled**: the deployment package's single `dist/main.js` (infra/package.cjs, what infra/deploy.sh ships).
 *
 * Each child process provides `@azure/functions-core` the way the worker does (a module the app may `require`) and a
 * minimal valid configuration, requires the entry points, and reports the time from before the first `require` to
 * after the last. Reports the median and best of each and the ratio of the medians; figures, not pass/fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const REPO_ROOT = path.resolve(__dirname, '../..');
const requireFromRepo = createRequire(path.join(REPO_ROOT, 'package.json'));
const { buildPackage } = requireFromRepo('./infra/package.cjs') as {
  buildPackage(outDir: string): Promise<{ files: string[]; inputs: string[] }>;
};

/** Runs in the child: a stand-in for the worker's @azure/functions-core, then the timed requires. */
const CHILD = `
const Module = require('node:module');
const core = {
  registerFunction: () => ({ dispose() {} }),
  registerHook: () => ({ dispose() {} }),
  setProgrammingModel() {},
  getProgrammingModel() { return undefined; },
  log() {},
};
const original = Module.prototype.require;
Module.prototype.require = function (id) { return id === '@azure/functions-core' ? core : original.apply(this, arguments); };
const files = JSON.parse(process.argv[1]);
const started = process.hrtime.bigint();
for (const file of files) require(file);
const ms = Number(process.hrtime.bigint() - started) / 1e6;
process.stdout.write(JSON.stringify({ ms }));
`;

const CONFIG = {
  ADE_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001',
  ADE_AUTH_MODE: 'managed-identity',
};

function loadOnce(files: string[]): number {
  const result = spawnSync(process.execPath, ['-e', CHILD, JSON.stringify(files)], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...CONFIG },
  });
  if (result.status !== 0) throw new Error(`loading ${files[0]}… failed:\n${result.stderr}`);
  return (JSON.parse(result.stdout) as { ms: number }).ms;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface ColdStartResult {
  node: string;
  rounds: number;
  unbundled: { files: number; medianMs: number; bestMs: number; samplesMs: number[] };
  bundled: { files: number; bytes: number; medianMs: number; bestMs: number; samplesMs: number[] };
  ratio: number;
}

export async function measureColdStart(rounds: number): Promise<ColdStartResult> {
  const functionsDir = path.join(REPO_ROOT, 'dist', 'functions');
  const unbundledFiles = readdirSync(functionsDir)
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((f) => path.join(functionsDir, f));
  if (unbundledFiles.length === 0) throw new Error('dist/functions is empty: run npm run build first');
  const packageDir = mkdtempSync(path.join(tmpdir(), 'ade-coldstart-'));
  try {
    await buildPackage(packageDir);
    const bundledFiles = [path.join(packageDir, 'dist', 'main.js')];
    // One warm-up each (the OS file cache), not counted.
    loadOnce(unbundledFiles);
    loadOnce(bundledFiles);
    const unbundled: number[] = [];
    const bundled: number[] = [];
    for (let i = 0; i < rounds; i++) {
      unbundled.push(loadOnce(unbundledFiles));
      bundled.push(loadOnce(bundledFiles));
    }
    const { size } = statSync(bundledFiles[0]!);
    return {
      node: process.version,
      rounds,
      unbundled: { files: unbundledFiles.length, medianMs: median(unbundled), bestMs: Math.min(...unbundled), samplesMs: unbundled },
      bundled: { files: 1, bytes: size, medianMs: median(bundled), bestMs: Math.min(...bundled), samplesMs: bundled },
      ratio: median(bundled) / median(unbundled),
    };
  } finally {
    rmSync(packageDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, out: { type: 'string' } }, strict: true });
  const rounds = values.rounds === undefined ? 7 : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got '${values.rounds}'`);
  const result = await measureColdStart(rounds);
  const fmt = (m: { medianMs: number; bestMs: number }) => `${m.medianMs.toFixed(0)} ms / ${m.bestMs.toFixed(0)} ms`;
  process.stdout.write(
    [
      `Cold start (${result.node}, ${rounds} rounds, alternating; median / best):`,
      `  unbundled  ${result.unbundled.files} entry files   ${fmt(result.unbundled)}`,
      `  bundled    1 file (${(result.bundled.bytes / 1e6).toFixed(1)} MB)  ${fmt(result.bundled)}`,
      `  bundled / unbundled (medians): ${result.ratio.toFixed(2)}`,
      '',
    ].join('\n'),
  );
  if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
