/**
 * infra/package.cjs builds what infra/deploy.sh ships: exactly host.json, package.json and two bundles of every
 * functions/*.ts: dist/main.js, what registers the functions, and dist/sdk.js, the packages main.js loads on first use;
 * nothing from local/, test/ or bench/, no dev dependency, no node_modules, no stale file. The packaged host.json
 * speaks the Durable backend the deployment chose.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFRA_DIR } from './arm';

const REPO_ROOT = path.resolve(INFRA_DIR, '..');
interface Built {
  files: string[];
  inputs: string[];
  mainInputs: string[];
  deferred: string[];
}
const packaging = createRequire(path.join(REPO_ROOT, 'package.json'))('./infra/package.cjs') as {
  PACKAGE_FILES: string[];
  DURABLE_BACKENDS: string[];
  REGISTRATION: string[];
  buildPackage(outDir: string, options?: { durableBackend?: string }): Promise<Built>;
  hostJsonFor(hostJsonText: string, durableBackend?: string): string;
  functionEntryPoints(): string[];
};
const ROOT_HOST_JSON = readFileSync(path.join(REPO_ROOT, 'host.json'), 'utf8');

interface HostJson {
  extensionBundle: { id: string; version: string };
  extensions: { durableTask: Record<string, unknown> & { storageProvider?: Record<string, unknown> } };
}

let outDir: string;
let built: Built;

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

  it.each([
    { file: 'main.js', external: ['./sdk.js', '@azure/functions-core'] },
    { file: 'sdk.js', external: [] },
  ])('$file requires nothing at run time but Node built-ins and $external', ({ file, external }) => {
    const bundle = readFileSync(path.join(outDir, 'dist', file), 'utf8');
    const required = new Set([...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!));
    const builtins = new Set(createRequire(__filename)('node:module').builtinModules as string[]);
    expect([...required].filter((id) => !id.startsWith('node:') && !builtins.has(id)).sort()).toEqual(external);
  });

  it('main.js holds the registration packages and defers the Azure SDKs to sdk.js', () => {
    const packageOf = (file: string) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
    const inMain = new Set(built.mainInputs.map(packageOf));
    for (const name of ['@azure/functions', 'durable-functions', 'zod']) expect(inMain).toContain(name);
    for (const name of ['@azure/identity', '@azure/arm-compute', '@azure/core-rest-pipeline', '@azure/msal-node', 'undici', 'axios']) {
      expect(inMain).not.toContain(name);
      expect(built.inputs.some((f) => packageOf(f) === name)).toBe(true);
    }
    expect(built.deferred.map(packageOf)).toEqual(expect.arrayContaining(['@azure/identity', '@azure/arm-compute', 'undici', 'axios']));
  });

  it('main.js registers every function without loading sdk.js', () => {
    // The worker's part: @azure/functions-core, recording what the app registers.
    const child = `
      const Module = require('node:module');
      const names = [];
      const core = {
        registerFunction: (metadata) => (names.push(metadata.name), { dispose() {} }),
        registerHook: () => ({ dispose() {} }),
        setProgrammingModel() {},
        getProgrammingModel() { return undefined; },
        log() {},
      };
      const original = Module.prototype.require;
      Module.prototype.require = function (id) { return id === '@azure/functions-core' ? core : original.apply(this, arguments); };
      require(process.argv[1]);
      const loaded = Object.keys(require.cache).map((f) => require('node:path').relative(process.argv[2], f)).sort();
      process.stdout.write(JSON.stringify({ names, loaded }));`;
    const out = execFileSync(process.execPath, ['-e', child, path.join(outDir, 'dist', 'main.js'), outDir], {
      encoding: 'utf8',
      // As in Azure: user-assigned managed identity and Application Insights on (infra/main.json).
      env: {
        PATH: process.env.PATH ?? '',
        ADE_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001',
        ADE_AUTH_MODE: 'managed-identity',
        AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000002',
        APPLICATIONINSIGHTS_CONNECTION_STRING:
          'InstrumentationKey=00000000-0000-0000-0000-000000000003;IngestionEndpoint=https://127.0.0.1:9/',
      },
    });
    const { names, loaded } = JSON.parse(out) as { names: string[]; loaded: string[] };
    expect(names).toEqual(expect.arrayContaining(['vmWritten', 'sweepHttp', 'encryptVm']));
    expect(loaded).toEqual(['dist/main.js']);
  });
});

describe('host.json per Durable backend', () => {
  const root = JSON.parse(ROOT_HOST_JSON) as HostJson;

  it('the repository host.json (what the local host speaks) is the Azure Storage one', () => {
    expect(root.extensions.durableTask.storageProvider).toEqual({ partitionCount: 4 });
    expect(root.extensions.durableTask.hubName).toBe('AdeAutopilot');
  });

  it.each([
    ['AzureStorage', { partitionCount: 4 }, 'AdeAutopilot', root.extensionBundle.version],
    [
      'DurableTaskScheduler',
      { type: 'azureManaged', connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING' },
      '%TASKHUB_NAME%',
      '[4.32.0, 5.0.0)',
    ],
  ])('%s: storageProvider, hubName and bundle range', (backend, storageProvider, hubName, bundle) => {
    const packaged = JSON.parse(packaging.hostJsonFor(ROOT_HOST_JSON, backend)) as HostJson;
    expect(packaged.extensions.durableTask.storageProvider).toEqual(storageProvider);
    expect(packaged.extensions.durableTask.hubName).toBe(hubName);
    expect(packaged.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: bundle });
    // Every other setting is the repository's.
    const strip = (h: HostJson) => ({
      ...h,
      extensionBundle: undefined,
      extensions: { ...h.extensions, durableTask: { ...h.extensions.durableTask, storageProvider: undefined, hubName: undefined } },
    });
    expect(strip(packaged)).toEqual(strip(root));
  });

  it.each([
    ['[4.*, 5.0.0)', '[4.32.0, 5.0.0)'],
    ['[4.0.0, 5.0.0)', '[4.32.0, 5.0.0)'],
    ['[4.35.0, 5.0.0)', '[4.35.0, 5.0.0)'],
    ['[5.*, 6.0.0)', '[5.*, 6.0.0)'],
  ])('the scheduler bundle range %s becomes %s (never below 4.32.0)', (range, expected) => {
    const text = JSON.stringify({ extensionBundle: { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: range } });
    expect((JSON.parse(packaging.hostJsonFor(text, 'DurableTaskScheduler')) as HostJson).extensionBundle.version).toBe(expected);
  });

  it.each([
    ['an unknown backend', ROOT_HOST_JSON, 'Netherite', 'unknown Durable backend "Netherite"'],
    [
      'a bundle range that cannot reach 4.32.0',
      JSON.stringify({ extensionBundle: { id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[3.*, 4.0.0)' } }),
      'DurableTaskScheduler',
      'cannot reach 4.32.0',
    ],
  ])('refuses %s', (_label, text, backend, message) => {
    expect(() => packaging.hostJsonFor(text, backend)).toThrow(message);
  });

  it('a DurableTaskScheduler build ships the azureManaged host.json and the same files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ade-package-dts-'));
    try {
      const result = await packaging.buildPackage(dir, { durableBackend: 'DurableTaskScheduler' });
      expect(result.files).toEqual([...packaging.PACKAGE_FILES].sort());
      expect(readFileSync(path.join(dir, 'host.json'), 'utf8')).toBe(packaging.hostJsonFor(ROOT_HOST_JSON, 'DurableTaskScheduler'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('the command line refuses an unknown --durable-backend before building anything', () => {
    const dir = path.join(tmpdir(), `ade-package-refused-${process.pid}`);
    const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'infra', 'package.cjs'), dir, '--durable-backend', 'Netherite'], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--durable-backend must be AzureStorage or DurableTaskScheduler, got "Netherite"');
    expect(existsSync(dir)).toBe(false);
  });
});
