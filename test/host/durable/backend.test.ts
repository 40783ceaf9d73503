// host.json's Durable storage provider: the local host runs the Azure Storage (default) and the Durable Task Scheduler
// (azureManaged) configurations, both on its SQLite store, and refuses what the Functions host could not start with.
// One app per process, so the end-to-end case lives in this file alone.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { durableBackendOf } from '../../../local/host/durable/backend';
import { startHarness, type Harness } from './harness';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const appDir = path.resolve(__dirname, '../../apps/durable-basic');
const packaging = createRequire(path.join(REPO_ROOT, 'package.json'))('./infra/package.cjs') as {
  hostJsonFor(text: string, backend: string): string;
};
const SCHEDULER = { type: 'azureManaged', connectionStringName: 'DTS' };
const CONNECTION =
  'Endpoint=https://dts-x.westeurope.durabletask.io;Authentication=ManagedIdentity;ClientID=00000000-0000-0000-0000-000000000001';

describe('durableBackendOf', () => {
  it.each([
    ['no durableTask section', undefined, {}, { provider: 'AzureStorage', hubName: 'TestHubName' }],
    ['Azure Storage settings', { hubName: 'H', storageProvider: { partitionCount: 4 } }, {}, { provider: 'AzureStorage', hubName: 'H' }],
    [
      'type AzureStorage (any case)',
      { hubName: 'H', storageProvider: { type: 'azurestorage' } },
      {},
      { provider: 'AzureStorage', hubName: 'H' },
    ],
    ['a %SETTING% hub name', { hubName: '%HUB%' }, { HUB: 'FromSetting' }, { provider: 'AzureStorage', hubName: 'FromSetting' }],
    [
      'azureManaged with its connection setting',
      { hubName: '%HUB%', storageProvider: SCHEDULER },
      { HUB: 'AdeAutopilot', DTS: CONNECTION },
      { provider: 'azureManaged', hubName: 'AdeAutopilot', endpoint: 'https://dts-x.westeurope.durabletask.io' },
    ],
    [
      "the emulator's connection string",
      { hubName: 'default', storageProvider: { type: 'AzureManaged', connectionStringName: 'DTS' } },
      { DTS: 'Endpoint=http://localhost:8080;Authentication=None' },
      { provider: 'azureManaged', hubName: 'default', endpoint: 'http://localhost:8080' },
    ],
  ])('accepts %s', (_label, durableTask, env, expected) => {
    expect(durableBackendOf(durableTask as Record<string, unknown> | undefined, env)).toEqual(expected);
  });

  it.each([
    ['an unset %SETTING% hub name', { hubName: '%HUB%' }, {}, 'hubName is %HUB%, but the app setting HUB is not set'],
    ['an empty hub name', { hubName: '' }, {}, 'hubName must be a non-empty string'],
    ['azureManaged without connectionStringName', { storageProvider: { type: 'azureManaged' } }, {}, 'needs connectionStringName'],
    ['azureManaged with its setting unset', { storageProvider: SCHEDULER }, {}, 'the app setting DTS is not set'],
    ['a connection string without Endpoint', { storageProvider: SCHEDULER }, { DTS: 'Authentication=None' }, 'it has authentication'],
    [
      'an Endpoint that is not a URL',
      { storageProvider: SCHEDULER },
      { DTS: 'Endpoint=dts-x;Authentication=None' },
      'must be a Durable Task Scheduler connection string',
    ],
    ['a connection string without Authentication', { storageProvider: SCHEDULER }, { DTS: 'Endpoint=https://x' }, 'it has endpoint'],
    ['a storage connection string', { storageProvider: SCHEDULER }, { DTS: 'UseDevelopmentStorage=true' }, 'it has usedevelopmentstorage'],
    ['Netherite', { storageProvider: { type: 'Netherite' } }, {}, 'storageProvider.type "Netherite" is not one the local host runs'],
    ['MSSQL', { storageProvider: { type: 'mssql' } }, {}, 'storageProvider.type "mssql" is not one the local host runs'],
  ])('refuses %s, naming the setting', (_label, durableTask, env, message) => {
    expect(() => durableBackendOf(durableTask as Record<string, unknown>, env)).toThrow(message);
  });

  it.each([
    ['AzureStorage', {}, { provider: 'AzureStorage', hubName: 'AdeAutopilot' }],
    [
      'DurableTaskScheduler',
      { TASKHUB_NAME: 'AdeAutopilot', DURABLE_TASK_SCHEDULER_CONNECTION_STRING: CONNECTION },
      { provider: 'azureManaged', hubName: 'AdeAutopilot', endpoint: 'https://dts-x.westeurope.durabletask.io' },
    ],
  ])('accepts the %s host.json infra/package.cjs ships, with the settings main.json sets', (backend, env, expected) => {
    const hostJson = JSON.parse(packaging.hostJsonFor(readFileSync(path.join(REPO_ROOT, 'host.json'), 'utf8'), backend)) as {
      extensions: { durableTask: Record<string, unknown> };
    };
    expect(durableBackendOf(hostJson.extensions.durableTask, env)).toEqual(expected);
  });
});

describe('an app whose host.json names the Durable Task Scheduler', () => {
  let h: Harness | undefined;
  const saved = { TASKHUB_NAME: process.env.TASKHUB_NAME, DTS: process.env.DTS };
  afterAll(async () => {
    await h?.stop();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('runs its orchestrations on the local store, under the task hub its setting names, and says so', async () => {
    process.env.TASKHUB_NAME = 'SchedulerHub';
    process.env.DTS = 'Endpoint=http://localhost:8080;Authentication=None';
    h = await startHarness(appDir, { durableTask: { hubName: '%TASKHUB_NAME%', storageProvider: SCHEDULER } });
    h.engine.dispatcher.startOrchestration({ name: 'Sequence', instanceId: 'dts-1', input: null });
    expect((await h.waitFor('dts-1')).status).toBe('Completed');
    const status = await h.api('GET', '/runtime/webhooks/durabletask/instances/dts-1');
    expect(status.status).toBe(200);
    expect(JSON.parse(h.engine.clientInputValue()).taskHubName).toBe('SchedulerHub');
    expect(h.logger.records.map((r) => r.message)).toContainEqual(
      expect.stringContaining('host.json names the Durable Task Scheduler (http://localhost:8080, task hub SchedulerHub)'),
    );
  });
});
