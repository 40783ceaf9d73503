/**
 * Vitest global setup, once per run (tests and benchmarks):
 *
 *  - builds dist/ with `tsc -p tsconfig.build.json` (the app, the local host and simulator, the pipeline benchmark):
 *    the host-spawning tests and `npm start` run the built files. Any type error fails the run before a test starts.
 *    tsc's own incremental build info (dist/.tsbuildinfo) keeps a rebuild with nothing changed to a few seconds
 *    (it is dropped when an entry point is missing from dist/: tsc does not re-emit files deleted by hand), and
 *    compiled files whose source is gone are deleted first;
 *  - collects the third-party checks that did not run (see ./third-party.ts) and prints them in one line at the end.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { notRunReport, REQUIRE_THIRD_PARTY_VARIABLE } from './third-party';

const REPO_ROOT = path.resolve(__dirname, '..');

declare module 'vitest' {
  export interface ProvidedContext {
    /** Directory where test files record third-party checks they could not run (one file per check). */
    thirdPartyNotRunDir: string;
  }
}

/** What the tests and `npm start` run from dist/: the function entry points and the two CLIs. */
function entryPoints(): string[] {
  const functions = readdirSync(path.join(REPO_ROOT, 'functions')).filter((file) => file.endsWith('.ts'));
  return [
    ...functions.map((file) => path.join('dist/functions', file.replace(/\.ts$/, '.js'))),
    'dist/local/host/cli.js',
    'dist/local/start/cli.js',
  ];
}

/**
 * Deletes compiled files whose source is gone (a moved or deleted .ts): tsc never removes outputs, and the host loads
 * every dist/functions/*.js, so a stale one would break the app.
 */
function removeStaleOutputs(dir = path.join(REPO_ROOT, 'dist')): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) removeStaleOutputs(full);
    else if (/\.js(\.map)?$/.test(entry.name)) {
      const source = path.join(REPO_ROOT, path.relative(path.join(REPO_ROOT, 'dist'), full)).replace(/\.js(\.map)?$/, '.ts');
      if (!existsSync(source)) rmSync(full);
    }
  }
}

function build(): void {
  removeStaleOutputs();
  if (entryPoints().some((file) => !existsSync(path.join(REPO_ROOT, file))))
    rmSync(path.join(REPO_ROOT, 'dist/.tsbuildinfo'), { force: true });
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const started = Date.now();
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(REPO_ROOT, 'tsconfig.build.json'), '--pretty', 'false'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`tsc -p tsconfig.build.json failed (exit ${result.status}); no test ran:\n${result.stdout}${result.stderr}`);
  }
  console.log(`Built dist/ (tsc -p tsconfig.build.json) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export default function setup(project: TestProject): () => void {
  build();
  const notRunDir = mkdtempSync(path.join(tmpdir(), 'ade-third-party-'));
  project.provide('thirdPartyNotRunDir', notRunDir);
  return () => {
    const notRun = readdirSync(notRunDir).map((file) => readFileSync(path.join(notRunDir, file), 'utf8'));
    rmSync(notRunDir, { recursive: true, force: true });
    if (notRun.length > 0 && process.env[REQUIRE_THIRD_PARTY_VARIABLE] !== '1') console.log(notRunReport(notRun));
  };
}
