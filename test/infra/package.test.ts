/**
 * infra/package.cjs builds what infra/deploy.sh ships: exactly host.json, package.json and one bundle, dist/main.js, of
 * every functions/*.ts; nothing from local/, test/ or bench/, no dev dependency, no node_modules, no stale file.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFRA_DIR } from './arm';

const REPO_ROOT = path.resolve(INFRA_DIR, '..');
const packaging = createRequire(path.join(REPO_ROOT, 'package.json'))('./infra/package.cjs') as {
  PACKAGE_FILES: string[];
  buildPackage(outDir: string): Promise<{ files: string[]; inputs: string[] }>;
  functionEntryPoints(): string[];
};

let outDir: string;
let built: { files: string[]; inputs: string[] };

beforeAll(async () => {
  outDir = mkdtempSync(path.join(tmpdir(), 'ade-package-test-'));
  // A stale file from an earlier build must not survive.
  writeFileSync(path.join(outDir, 'stale.js'), 'old');
  built = await packaging.buildPackage(outDir);
}, 120_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const repoPackage = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines: unknown;
  devDependencies: Record<string, string>;
};

describe('the deployment package', () => {
  it('holds exactly the package list', () => {
    expect(built.files).toEqual([...packaging.PACKAGE_FILES].sort());
    expect(existsSync(path.join(outDir, 'stale.js'))).toBe(false);
    expect(existsSync(path.join(outDir, 'node_modules'))).toBe(false);
  });

  it('bundles every function entry point and nothing from local/, test/ or bench/', () => {
    expect(packaging.functionEntryPoints().length).toBeGreaterThan(5);
    for (const entry of packaging.functionEntryPoints()) expect(built.inputs).toContain(entry);
    expect(built.inputs.filter((f) => /^(local|test|bench)\//.test(f))).toEqual([]);
  });

  it.each(Object.keys(repoPackage.devDependencies))('bundles nothing from the dev dependency %s', (name) => {
    expect(built.inputs.filter((f) => f.startsWith(`node_modules/${name}/`))).toEqual([]);
  });

  it('package.json: the bundle as main, the repository engines, no dependencies to install', () => {
    const manifest = JSON.parse(readFileSync(path.join(outDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.main).toBe('dist/main.js');
    expect(manifest.engines).toEqual(repoPackage.engines);
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.devDependencies).toBeUndefined();
    expect(readFileSync(path.join(outDir, 'host.json'), 'utf8')).toBe(readFileSync(path.join(REPO_ROOT, 'host.json'), 'utf8'));
  });

  it('requires nothing at run time but Node built-ins and the worker-provided @azure/functions-core', () => {
    const bundle = readFileSync(path.join(outDir, 'dist', 'main.js'), 'utf8');
    const required = new Set([...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!));
    const builtins = new Set(createRequire(__filename)('node:module').builtinModules as string[]);
    const external = [...required].filter((id) => !id.startsWith('node:') && !builtins.has(id));
    expect(external).toEqual(['@azure/functions-core']);
  });
});
