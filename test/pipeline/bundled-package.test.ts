/**
 * The deployment package (infra/package.cjs: the esbuild bundle dist/main.js, which loads the Azure SDKs from
 * dist/sdk.js on first use, plus host.json and package.json; no node_modules) is what Azure runs: the local host loads
 * that directory, not the repository, and a new VM ends encrypted through it, with every function registered from
 * main.js; the vault subscription it creates at run time dead-letters into ADE_DEAD_LETTER_CONTAINER_ID.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPT_VM_ORCHESTRATOR, REMEDIATE_VM_ORCHESTRATOR } from '../../orchestrations/contracts';
import { expectEncrypted } from './checks';
import { REPO_ROOT, startPipeline, type Pipeline } from './harness';

const { buildPackage } = createRequire(path.join(REPO_ROOT, 'package.json'))('./infra/package.cjs') as {
  buildPackage(outDir: string): Promise<{ files: string[]; inputs: string[] }>;
};

let p: Pipeline;
const DEAD_LETTER_STORAGE =
  '/subscriptions/00000000-0000-0000-0000-00000000dead/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stapp';
const DEAD_LETTER_CONTAINER_ID = `${DEAD_LETTER_STORAGE}/blobServices/default/containers/eventgrid-deadletter`;
let packageDir: string;

beforeAll(async () => {
  packageDir = mkdtempSync(path.join(tmpdir(), 'ade-package-'));
  await buildPackage(packageDir);
  p = await startPipeline({
    mode: 'single-pass',
    kek: false,
    appDir: packageDir,
    settings: { ADE_DEAD_LETTER_CONTAINER_ID: DEAD_LETTER_CONTAINER_ID },
  });
}, 180_000);
afterAll(async () => {
  await p?.stop();
  rmSync(packageDir, { recursive: true, force: true });
});

describe('the bundled deployment package on the local host', () => {
  it('registers every function from dist/main.js and encrypts a new VM', async () => {
    const startup = p.host.logs.find((r) => r.category === 'Host.Startup' && Array.isArray(r.entryPoints));
    expect(startup?.entryPoints).toEqual(['dist/main.js']);
    const functions = p.host.runtime.list().map((f) => f.name);
    // Every entry file that registers a trigger named after itself (app.http / eventGrid / timer).
    const triggers = readdirSync(path.join(REPO_ROOT, 'functions'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replace(/\.ts$/, ''))
      .filter((name) =>
        new RegExp(`\\.(?:http|eventGrid|timer)\\(\\s*'${name}'`).test(
          readFileSync(path.join(REPO_ROOT, 'functions', `${name}.ts`), 'utf8'),
        ),
      );
    expect(triggers.length).toBeGreaterThan(10);
    // Opt-in triggers are registered only when their setting is on (eventWiring: ADE_EVENT_WIRING=auto, off here).
    const optIn = ['eventWiring'];
    expect(functions).toEqual(
      expect.arrayContaining([...triggers.filter((t) => !optIn.includes(t)), ENCRYPT_VM_ORCHESTRATOR, REMEDIATE_VM_ORCHESTRATOR]),
    );
    expect(functions).not.toContain('eventWiring');
    const vmId = await p.createVm('bundled-linux', { os: 'Linux' });
    await expectEncrypted(p, { vmId, os: 'Linux', mode: 'single-pass', kek: false });
    // The vault's Key Vault event subscription the app created dead-letters into ADE_DEAD_LETTER_CONTAINER_ID.
    const topics = [];
    for await (const t of p.eventGrid.systemTopics.listBySubscription()) topics.push(t);
    const vaultTopic = topics.find((t) => t.topicType?.toLowerCase() === 'microsoft.keyvault.vaults')!;
    const group = vaultTopic.id!.split('/')[4]!;
    const subscriptions = [];
    for await (const s of p.eventGrid.systemTopicEventSubscriptions.listBySystemTopic(group, vaultTopic.name!)) subscriptions.push(s);
    expect(subscriptions.map((s) => s.deadLetterDestination)).toEqual([
      { endpointType: 'StorageBlob', resourceId: DEAD_LETTER_STORAGE, blobContainerName: 'eventgrid-deadletter' },
    ]);
  }, 120_000);
});
