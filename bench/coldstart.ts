/**
 * Cold-start benchmark: `npm run bench:coldstart -- [--rounds 7] [--out FILE]`.
 *
 * What the Functions Node worker does first on a new instance is load the app's entry points. This measures, in one
 * run, the time to load them in a fresh Node process two ways, alternating so both see the same machine load:
 *
 *  - **unbundled**: every `dist/functions/*.js` of the tsc build, resolving the SDKs from node_modules;
 *  - **bundled**: the deployment package's `dist/main.js` (infra/package.cjs, what infra/deploy.sh ships), which loads
 *    the Azure SDKs from `dist/sdk.js` on first use.
 *
 * Each child process provides `@azure/functions-core` the way the worker does (a module the app may `require`) and a
 * minimal valid configuration with the settings infra/main.json gives the app in Azure (CONFIG), requires the entry
 * points, and reports the time from before the first `require` to after the last. The bundled child then also times
 * loading `dist/sdk.js` (what the first call to Azure adds, before the SDK code it needs runs). Reports the median
 * and best of each and the ratio of the medians; figures, not pass/fail.
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
const then = process.argv[2];
if (then && Object.keys(require.cache).includes(then)) throw new Error(then + ' was loaded at start-up');
const thenStarted = process.hrtime.bigint();
if (then) require(then);
process.stdout.write(JSON.stringify({ ms, thenMs: then ? Number(process.hrtime.bigint() - thenStarted) / 1e6 : undefined }));
`;

/**
 * The settings that change what loading does, as infra/main.json sets them in Azure: managed identity (user-assigned)
 * and Application Insights (so telemetry export is on; the key and endpoint are placeholders, nothing is sent at load).
 */
const CONFIG = {
  ADE_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001',
  ADE_AUTH_MODE: 'managed-identity',
  AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000002',
  APPLICATIONINSIGHTS_CONNECTION_STRING:
    'InstrumentationKey=00000000-0000-0000-0000-000000000003;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
};

/** Loads the files in a fresh process; `then`, a file required afterwards, must not have been loaded by them. */
function loadOnce(files: string[], then?: string): { ms: number; thenMs?: number } {
  const result = spawnSync(process.execPath, ['-e', CHILD, JSON.stringify(files), ...(then ? [then] : [])], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...CONFIG },
  });
  if (result.status !== 0) throw new Error(`loading ${files[0]}… failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as { ms: number; thenMs?: number };
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
  /** Loading dist/sdk.js after start-up: what the first call to Azure adds before the SDK code it needs runs. */
  sdk: { bytes: number; medianMs: number; bestMs: number; samplesMs: number[] };
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
    const sdkFile = path.join(packageDir, 'dist', 'sdk.js');
    // One warm-up each (the OS file cache), not counted.
    loadOnce(unbundledFiles);
    loadOnce(bundledFiles, sdkFile);
    const unbundled: number[] = [];
    const bundled: number[] = [];
    const sdk: number[] = [];
    for (let i = 0; i < rounds; i++) {
      unbundled.push(loadOnce(unbundledFiles).ms);
      const { ms, thenMs } = loadOnce(bundledFiles, sdkFile);
      bundled.push(ms);
      sdk.push(thenMs!);
    }
    const stats = (samplesMs: number[]) => ({ medianMs: median(samplesMs), bestMs: Math.min(...samplesMs), samplesMs });
    return {
      node: process.version,
      rounds,
      unbundled: { files: unbundledFiles.length, ...stats(unbundled) },
      bundled: { files: 1, bytes: statSync(bundledFiles[0]!).size, ...stats(bundled) },
      sdk: { bytes: statSync(sdkFile).size, ...stats(sdk) },
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
      `  bundled    dist/main.js (${(result.bundled.bytes / 1e6).toFixed(1)} MB)  ${fmt(result.bundled)}`,
      `  bundled / unbundled (medians): ${result.ratio.toFixed(2)}`,
      `  then, at the first call to Azure: dist/sdk.js (${(result.sdk.bytes / 1e6).toFixed(1)} MB) ${fmt(result.sdk)}`,
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
