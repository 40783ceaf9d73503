/**
 * The launcher's, demo's and benchmark's pure parts: settings composition, the Event Grid plan
 * derived from EVENT_ROUTES, request-log arithmetic, percentiles, progress rows, sim.env parsing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_SETTINGS, loadConfig } from '../../core/config';
import { EVENT_ROUTES } from '../../core/events/routes';
import { callsBy, percentile, type RequestCountsSnapshot } from '../../local/demo/metrics';
import { parseEnvFile } from '../../local/demo/session';
import { applyStatus, progressLine, renderTable, type VmProgress, type VmStatus } from '../../local/demo/table';
import { planEventSubscriptions, webhookUrl } from '../../local/start/event-wiring';
import { azureAppSettings, checkAzureSettings, readLocalSettingsValues, simulatorAppSettings } from '../../local/start/settings';
import { userShellEnv } from '../../local/start/stack';
import { parseArmBudget } from '../../bench/pipeline-bench';

const SUB = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SIM_ENV = {
  HTTPS_PROXY: 'http://127.0.0.1:9',
  AZURE_TENANT_ID: '10000000-0000-0000-0000-000000000001',
  AZURE_CLIENT_ID: '20000000-0000-0000-0000-000000000002',
  AZURE_CLIENT_SECRET: 'sim-secret',
  AZURE_SUBSCRIPTION_ID: SUB,
};

describe('simulatorAppSettings', () => {
  const base = { simEnv: SIM_ENV, subscriptionId: SUB, hostUrl: 'http://127.0.0.1:7071', eventGridKey: 'k/e+y' };
  const cases: Array<{ name: string; local: Record<string, string>; env: Record<string, string>; expect: Record<string, string> }> = [
    {
      name: 'defaults from core/config',
      local: {},
      env: {},
      expect: {
        ADE_ENCRYPTION_MODE: 'aad',
        ADE_KEK_ENABLED: 'true',
        ADE_VAULT_RESOURCE_GROUP: 'rg-ade-autopilot-vaults',
        // The simulator's operations are sped up: short polls through the local-only setting, not a faster clock.
        ADE_LOCAL_POLL_SECONDS: '5',
      },
    },
    {
      name: "the user's poll interval wins over npm start's",
      local: { ADE_LOCAL_POLL_SECONDS: '20' },
      env: {},
      expect: { ADE_LOCAL_POLL_SECONDS: '20' },
    },
    {
      name: 'local.settings.json overrides defaults',
      local: { ADE_ENCRYPTION_MODE: 'single-pass' },
      env: {},
      expect: { ADE_ENCRYPTION_MODE: 'single-pass' },
    },
    {
      name: 'process env overrides local.settings.json',
      local: { ADE_KEK_ENABLED: 'true' },
      env: { ADE_KEK_ENABLED: 'false' },
      expect: { ADE_KEK_ENABLED: 'false' },
    },
    {
      name: 'blank values do not override',
      local: { ADE_ENCRYPTION_MODE: 'single-pass' },
      env: { ADE_ENCRYPTION_MODE: '  ' },
      expect: { ADE_ENCRYPTION_MODE: 'single-pass' },
    },
    {
      name: 'the simulator dictates subscription, auth and credentials',
      local: { ADE_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000000', ADE_AUTH_MODE: 'managed-identity' },
      env: { AZURE_CLIENT_SECRET: 'real-azure-secret' },
      expect: {
        ADE_SUBSCRIPTIONS: SUB,
        ADE_AUTH_MODE: 'environment',
        AZURE_CLIENT_SECRET: 'sim-secret',
        HTTPS_PROXY: 'http://127.0.0.1:9',
      },
    },
    {
      name: 'the secretEvents webhook carries the encoded system key',
      local: {},
      env: {},
      expect: {
        ADE_SECRET_EVENTS_WEBHOOK_URL: 'http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=secretEvents&code=k%2Fe%2By',
      },
    },
  ];
  it.each(cases)('$name', (c) => {
    const settings = simulatorAppSettings({ ...base, localValues: c.local, env: c.env });
    expect(settings).toMatchObject(c.expect);
  });

  it('composes settings the app itself accepts', () => {
    const config = loadConfig(simulatorAppSettings({ ...base, localValues: {}, env: {} }));
    expect(config.subscriptions).toEqual([SUB]);
    expect(config.auth.mode).toBe('environment');
  });

  it('takes every ADE_ default from CONFIG_SETTINGS', () => {
    const settings = simulatorAppSettings({ ...base, localValues: {}, env: {} });
    for (const s of CONFIG_SETTINGS.filter((x) => x.name.startsWith('ADE_') && x.default && x.name !== 'ADE_AUTH_MODE'))
      expect(settings[s.name], s.name).toBe(s.default);
  });
});

describe('azure settings', () => {
  it('drops the simulator-only variables and defaults to environment auth', () => {
    const s = azureAppSettings({ ADE_SUBSCRIPTIONS: SUB }, { AZURE_SIM_URL: 'http://127.0.0.1:1', PATH: '/bin' });
    expect(s.AZURE_SIM_URL).toBeUndefined();
    expect(s).toMatchObject({ ADE_AUTH_MODE: 'environment', ADE_SUBSCRIPTIONS: SUB, PATH: '/bin' });
  });

  it('accepts complete settings and names every missing one otherwise', () => {
    const ok = {
      ADE_SUBSCRIPTIONS: SUB,
      ADE_AUTH_MODE: 'environment',
      AZURE_TENANT_ID: SIM_ENV.AZURE_TENANT_ID,
      AZURE_CLIENT_ID: SIM_ENV.AZURE_CLIENT_ID,
      AZURE_CLIENT_SECRET: 'x',
    };
    expect(checkAzureSettings(ok).subscriptions).toEqual([SUB]);
    expect(() => checkAzureSettings({ ADE_AUTH_MODE: 'environment' })).toThrow(
      /ADE_SUBSCRIPTIONS[\s\S]*AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET/,
    );
  });

  it('reads local.settings.json Values and names a malformed file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ade-settings-'));
    try {
      const good = path.join(dir, 'good.json');
      writeFileSync(good, JSON.stringify({ IsEncrypted: false, Values: { ADE_DRY_RUN: 'true', N: 3 } }));
      expect(readLocalSettingsValues(good)).toEqual({ ADE_DRY_RUN: 'true', N: '3' });
      expect(readLocalSettingsValues(path.join(dir, 'absent.json'))).toEqual({});
      const bad = path.join(dir, 'bad.json');
      writeFileSync(bad, '{ nope');
      expect(() => readLocalSettingsValues(bad)).toThrow(bad);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('planEventSubscriptions', () => {
  it('wires only registered functions, with the filters of EVENT_ROUTES', () => {
    const configuration = { policyDefinitionIds: ['/providers/Microsoft.Authorization/policyDefinitions/p1'], vaultResourceGroup: 'rg-v' };
    expect(planEventSubscriptions(['secretEvents', 'encryptVmHttp'], configuration)).toEqual([]);
    const plan = planEventSubscriptions(['vmWritten', 'armDrift', 'policyStates'], configuration);
    expect(plan.map((p) => `${p.topic.name}/${p.name}`)).toEqual([
      'ade-autopilot-resource-events/vm-written',
      'ade-autopilot-resource-events/arm-drift',
      'ade-autopilot-policy-events/policy-states',
    ]);
    for (const p of plan) {
      const route = EVENT_ROUTES[p.functionName as keyof typeof EVENT_ROUTES];
      expect(p.includedEventTypes).toEqual(route.eventTypes);
      const ops = 'operationNames' in route ? route.operationNames : undefined;
      expect(p.advancedFilters.filter((f) => f.key === 'data.operationName')).toEqual(
        ops ? [{ operatorType: 'StringIn', key: 'data.operationName', values: ops }] : [],
      );
    }
    const filtersOf = (name: string) =>
      plan.find((p) => p.functionName === name)!.advancedFilters.filter((f) => f.key !== 'data.operationName');
    expect(filtersOf('policyStates')).toEqual([
      { operatorType: 'StringIn', key: 'data.complianceState', values: ['NonCompliant'] },
      { operatorType: 'StringIn', key: 'data.policyDefinitionId', values: ['/providers/Microsoft.Authorization/policyDefinitions/p1'] },
    ]);
    expect(filtersOf('armDrift')).toEqual([
      {
        operatorType: 'StringContains',
        key: 'subject',
        values: ['/providers/Microsoft.Compute/virtualMachines/', '/resourceGroups/rg-v/providers/Microsoft.KeyVault/vaults/'],
      },
    ]);
    expect(filtersOf('vmWritten')).toEqual([]);
  });

  it('builds the host webhook URL with the key encoded', () => {
    expect(webhookUrl('http://127.0.0.1:1', 'vmWritten', 'a&b')).toBe(
      'http://127.0.0.1:1/runtime/webhooks/eventgrid?functionName=vmWritten&code=a%26b',
    );
  });
});

describe('request-log arithmetic', () => {
  const before: RequestCountsSnapshot = { detailed: { arm: { 'Microsoft.Compute/virtualMachines/read': { app: 2, user: 5 } } } };
  const after: RequestCountsSnapshot = {
    detailed: {
      arm: {
        'Microsoft.Compute/virtualMachines/read': { app: 10, user: 9 },
        'Microsoft.Compute/virtualMachines/write': { app: 3 },
        'Microsoft.Compute/virtualMachines/extensions/write': { app: 1 },
        'Microsoft.KeyVault/vaults/accessPolicy/action': { app: 2 },
        'Microsoft.EventGrid/eventSubscriptions/delete': { app: 1 },
        // Resource Graph queries are POSTs through management.azure.com but spend their own quota, not ARM's write bucket.
        'Microsoft.ResourceGraph/resources/action': { app: 5 },
      },
      graph: { 'POST applications': { app: 1 }, 'GET applications': { app: 4 }, 'POST applications/{id}/addPassword': { app: 2 } },
      keyvault: { SecretList: { app: 3 }, KeyCreate: { app: 1, user: 7 } },
      entra: { token: { app: 2 } },
    },
  };
  it("counts one principal's calls since the snapshot, by class", () => {
    expect(callsBy('app', before, after)).toEqual({
      armReads: 8,
      armWrites: 6,
      armDeletes: 1,
      graphReads: 4,
      graphWrites: 3,
      keyVaultOperations: 4,
      resourceGraphQueries: 5,
      other: { entra: 2 },
    });
    expect(callsBy('user', before, after)).toMatchObject({ armReads: 4, armWrites: 0, keyVaultOperations: 7 });
  });

  it.each([
    { values: [], p: 50, expected: undefined },
    { values: [5], p: 99, expected: 5 },
    { values: [4, 1, 3, 2], p: 50, expected: 2 },
    { values: Array.from({ length: 100 }, (_, i) => 100 - i), p: 99, expected: 99 },
    { values: [1, 2, 3], p: 100, expected: 3 },
  ])('percentile($values.length values, p$p) = $expected', ({ values, p, expected }) => {
    expect(percentile(values, p)).toBe(expected);
  });
});

describe('demo progress rows', () => {
  const row = (): VmProgress => ({
    name: 'vm1',
    os: 'Linux',
    region: 'westeurope',
    vmId: '/x',
    instanceId: 'i',
    createdAt: 1_000,
    phase: 'created',
    state: 'pending',
  });

  it.each([
    { name: 'no run yet (404)', s: undefined, phase: 'waiting for the VM write event', state: 'pending', done: false },
    {
      name: 'in flight with a phase',
      s: { state: 'pending', phase: 'deploying-extension' },
      phase: 'deploying-extension',
      state: 'running',
      done: false,
    },
    { name: 'encrypted', s: { state: 'encrypted', phase: 'done' }, phase: 'encrypted', state: 'encrypted', done: true },
    {
      name: 'skipped',
      s: { state: 'skipped', phase: 'done', runs: [{ outcome: 'skipped' }] },
      phase: 'skipped',
      state: 'other-outcome',
      done: true,
    },
    {
      name: 'failed with a reason',
      s: { state: 'failed', phase: 'failed', lastError: { reason: 'Extension failed: disk full\nstack', nextStep: 'x' } },
      phase: 'failed: Extension failed: disk full',
      state: 'failed',
      done: true,
    },
  ])('$name', ({ s, phase, state, done }) => {
    const r = row();
    expect(applyStatus(r, s as VmStatus | undefined, 5_000)).toBe(true);
    expect(r.phase).toBe(phase);
    expect(r.state).toBe(state);
    expect(r.doneAt).toBe(done ? 5_000 : undefined);
    expect(applyStatus(r, s as VmStatus | undefined, 6_000)).toBe(false); // unchanged → nothing to print
  });

  it('renders the table and plain lines with real elapsed time', () => {
    const r = row();
    applyStatus(r, { state: 'encrypted', phase: 'done' }, 31_000);
    const lines = renderTable([r], 40_000);
    expect(lines[0]).toMatch(/VM\s+OS\s+Region\s+Phase\s+Elapsed/);
    expect(lines[2]).toMatch(/vm1\s+Linux\s+westeurope\s+encrypted\s+30\.0 s$/);
    expect(lines.at(-1)).toBe('1/1 finished');
    expect(progressLine(r, 31_000)).toMatch(/vm1 \(Linux, westeurope\): encrypted after 30\.0 s$/);
  });
});

it('parses sim.env lines, quotes included', () => {
  expect(parseEnvFile("# c\nexport A='x'\nexport B='it'\\''s'\nnot a line\n")).toEqual({ A: 'x', B: "it's" });
});

describe('bench --arm-budget', () => {
  it.each([
    { text: '', expected: {} },
    { text: 'writes=50/2', expected: { writes: { bucketSize: 50, refillPerSecond: 2 } } },
    {
      text: 'reads=100/2.5, writes=20/1',
      expected: { reads: { bucketSize: 100, refillPerSecond: 2.5 }, writes: { bucketSize: 20, refillPerSecond: 1 } },
    },
  ])('parses "$text"', ({ text, expected }) => {
    expect(parseArmBudget(text)).toEqual(expected);
  });
  it.each(['deletes=1/1', 'writes=50', 'writes=a/b'])('rejects "%s" naming the expected form', (text) => {
    expect(() => parseArmBudget(text)).toThrow(/reads=<bucket>\/<refill per s>/);
  });
});

describe('userShellEnv (what sourcing .state/sim/sim.env gives a shell)', () => {
  const user = { tenantId: 't-user', clientId: 'c-user', objectId: 'o-user', clientSecret: 's-user' };
  const simEnv = {
    ...SIM_ENV,
    NODE_EXTRA_CA_CERTS: '/ca.crt',
    IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token',
    IDENTITY_HEADER: 'h',
    AZURE_SIM_MANAGED_IDENTITY_CLIENT_ID: 'mi',
  };
  const env = userShellEnv(simEnv, user);
  it.each([
    ['AZURE_CLIENT_ID', 'c-user'],
    ['AZURE_CLIENT_SECRET', 's-user'],
    ['AZURE_TENANT_ID', 't-user'],
    ['AZURE_SUBSCRIPTION_ID', SUB],
    ['HTTPS_PROXY', 'http://127.0.0.1:9'],
    ['NODE_EXTRA_CA_CERTS', '/ca.crt'],
    ['IDENTITY_ENDPOINT', undefined],
    ['IDENTITY_HEADER', undefined],
    ['AZURE_SIM_MANAGED_IDENTITY_CLIENT_ID', undefined],
  ])('%s = %s', (name, value) => {
    expect(env[name]).toBe(value);
  });
  it("carries none of the automation's credentials", () => {
    expect(Object.values(env)).not.toContain(SIM_ENV.AZURE_CLIENT_SECRET);
    expect(Object.values(env)).not.toContain(SIM_ENV.AZURE_CLIENT_ID);
  });
});
