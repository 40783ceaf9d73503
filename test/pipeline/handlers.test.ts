/**
 * The pure cores behind the functions and the entities, table-driven with fixtures and fakes.
 * (The end-to-end proof is in the host suites next to this file; these pin down the edge cases
 * that are awkward to provoke through the simulator.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toEncryptionPolicy, loadConfig } from '../../core/config';
import { NotFoundError, TransientError } from '../../core/errors';
import type { VmSnapshot } from '../../core/vm';
import { handleSecretEvents, type SecretEventsDeps } from '../../functions/lib/secret-events';
import { secretEventsDestination } from '../../functions/lib/secret-events-endpoint';
import { handleVmWritten, VmWrittenError, type VmWrittenDeps } from '../../functions/lib/vm-written';
import { matchWaiter, waiterFor, waitersEntityStep } from '../../orchestrations/entities';
import type { Waiter } from '../../orchestrations/contracts';

const fixture = (name: string): any => JSON.parse(readFileSync(path.join(__dirname, '../fixtures/pipeline', name), 'utf8'));
const SUB = '11111111-1111-1111-1111-111111111111';
const policy = toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: SUB }));
const vmId = (name: string, sub = SUB) => `/subscriptions/${sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/${name}`;

function vmWriteEvent(overrides: { id?: string; resourceUri?: string; oid?: string; eventType?: string; operationName?: string } = {}) {
  const event = fixture('vm-write-event.json');
  if (overrides.id) event.id = overrides.id;
  if (overrides.eventType) event.eventType = overrides.eventType;
  if (overrides.operationName) event.data.operationName = overrides.operationName;
  if (overrides.resourceUri) event.data.resourceUri = event.subject = overrides.resourceUri;
  if (overrides.oid) {
    event.data.claims['http://schemas.microsoft.com/identity/claims/objectidentifier'] = overrides.oid;
    event.data.authorization.evidence.principalId = overrides.oid.replace(/-/g, '');
  }
  return event;
}

function snapshot(id: string, patch: Partial<VmSnapshot> = {}): VmSnapshot {
  const name = id.split('/').pop()!;
  return {
    id,
    name,
    resourceGroup: 'rg-app',
    subscriptionId: id.split('/')[2]!,
    location: 'westeurope',
    osType: 'Windows',
    vmSize: 'Standard_D4s_v5',
    provisioningState: 'Succeeded',
    powerState: 'running',
    tags: {},
    osDisk: { name: `${name}-os` },
    dataDisks: [],
    extensions: [],
    imageReference: { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter', version: 'latest' },
    ...patch,
  };
}

function vmDeps(options: { vms?: Record<string, VmSnapshot | Error>; self?: string; dryRun?: boolean } = {}) {
  const reads: string[] = [];
  const starts: string[] = [];
  const logs: string[] = [];
  const deps: VmWrittenDeps = {
    policy: { ...policy, dryRun: options.dryRun ?? false },
    getVm: async (id) => {
      reads.push(id);
      const vm = options.vms?.[id.toLowerCase()] ?? snapshot(id);
      if (vm instanceof Error) throw vm;
      return vm;
    },
    start: async (id) => {
      starts.push(id);
      return { instanceId: `encrypt-${id.split('/').pop()}`, started: true };
    },
    selfObjectId: async () => options.self,
    log: (_level, message) => logs.push(message),
  };
  return { deps, reads, starts, logs };
}

describe('vmWritten core', () => {
  const SELF = '99999999-9999-9999-9999-999999999999';
  const cases: Array<{ name: string; body: unknown; reads: number; starts: number }> = [
    { name: 'a VM write in scope', body: [vmWriteEvent()], reads: 1, starts: 1 },
    {
      name: 'the same VM twice in a batch (creation writes twice), ids differing in case',
      body: [vmWriteEvent(), vmWriteEvent({ id: 'b', resourceUri: vmId('VM1').replace('resourceGroups/rg-app', 'resourcegroups/RG-APP') })],
      reads: 1,
      starts: 1,
    },
    {
      name: 'a subscription out of scope: dropped without reading the VM',
      body: [vmWriteEvent({ resourceUri: vmId('vm1', '55555555-5555-5555-5555-555555555555') })],
      reads: 0,
      starts: 0,
    },
    { name: 'a write by the app itself (extension, model PATCH, tags)', body: [vmWriteEvent({ oid: SELF })], reads: 0, starts: 0 },
    {
      name: 'a temporary deployment URI instead of a VM id',
      body: [vmWriteEvent({ resourceUri: `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Resources/deployments/d1` })],
      reads: 0,
      starts: 0,
    },
    {
      name: 'an extension write (not this route)',
      body: [vmWriteEvent({ operationName: 'Microsoft.Compute/virtualMachines/extensions/write' })],
      reads: 0,
      starts: 0,
    },
    { name: 'a delete event', body: [vmWriteEvent({ eventType: 'Microsoft.Resources.ResourceDeleteSuccess' })], reads: 0, starts: 0 },
    {
      name: 'a malformed event next to a good one',
      body: [{ eventType: 'Microsoft.Resources.ResourceWriteSuccess', id: 'x' }, vmWriteEvent()],
      reads: 1,
      starts: 1,
    },
    { name: 'a body that is not an event at all', body: 'not json', reads: 0, starts: 0 },
  ];
  it.each(cases)('$name', async ({ body, reads, starts }) => {
    const fake = vmDeps({ self: SELF });
    await handleVmWritten(body, fake.deps);
    expect(fake.reads).toHaveLength(reads);
    expect(fake.starts).toHaveLength(starts);
  });

  it('assesses the re-read VM, not the event: an excluded or encrypted VM starts nothing', async () => {
    const excluded = vmId('vm1');
    const fake = vmDeps({ vms: { [excluded.toLowerCase()]: snapshot(excluded, { tags: { 'ade-autopilot': 'skip' } }) } });
    const report = await handleVmWritten([vmWriteEvent()], fake.deps);
    expect(fake.starts).toEqual([]);
    expect(report.vms[0]).toMatchObject({ action: 'not-encrypting', decision: 'skip' });
  });

  it('a second event for a VM whose run is active costs no ARM read (Azure sends one on accept, one on completion)', async () => {
    const fake = vmDeps();
    const active = new Set<string>();
    fake.deps.activeRun = async (id) => (active.has(id.toLowerCase()) ? 'Running' : undefined);
    await handleVmWritten([vmWriteEvent({ id: 'accepted' })], fake.deps);
    active.add(vmId('vm1').toLowerCase());
    const report = await handleVmWritten([vmWriteEvent({ id: 'completed' })], fake.deps);
    expect(fake.reads).toHaveLength(1);
    expect(fake.starts).toHaveLength(1);
    expect(report.vms[0]).toMatchObject({ action: 'already-running' });
  });

  it("starts the run with the VM's latest write time, so that its inspection reuses no read sent before that write", async () => {
    const at = (id: string, eventTime: string) => ({ ...vmWriteEvent({ id }), eventTime });
    const fake = vmDeps();
    const times: Array<string | undefined> = [];
    fake.deps.start = async (id, readSince) => {
      times.push(readSince);
      return { instanceId: `encrypt-${id.split('/').pop()}`, started: true };
    };
    await handleVmWritten([at('a', '2026-05-01T10:00:05Z'), at('b', '2026-05-01T10:00:09Z'), at('c', '2026-05-01T10:00:07Z')], fake.deps);
    expect(times).toEqual(['2026-05-01T10:00:09Z']);
  });

  it('dry run: logs the plan and starts nothing', async () => {
    const fake = vmDeps({ dryRun: true });
    const report = await handleVmWritten([vmWriteEvent()], fake.deps);
    expect(fake.starts).toEqual([]);
    expect(report.vms[0]).toMatchObject({ action: 'planned' });
    expect(fake.logs.some((l) => l.includes('dry run, nothing started'))).toBe(true);
  });

  it('one failing VM does not lose the others, then fails naming it so Event Grid retries', async () => {
    const bad = vmId('vm-bad');
    const gone = vmId('vm-gone');
    const fake = vmDeps({
      vms: { [bad.toLowerCase()]: new TransientError('ARM answered 503'), [gone.toLowerCase()]: new NotFoundError('no such VM') },
    });
    const body = [vmWriteEvent({ id: 'a', resourceUri: bad }), vmWriteEvent({ id: 'b', resourceUri: gone }), vmWriteEvent({ id: 'c' })];
    const error = await handleVmWritten(body, fake.deps).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VmWrittenError);
    expect((error as VmWrittenError).message).toContain(bad);
    expect((error as VmWrittenError).message).toContain('ARM answered 503');
    expect((error as VmWrittenError).message).not.toContain(gone); // deleted VMs are not failures
    expect(fake.starts).toEqual([vmId('vm1')]);
  });
});

describe('secretEvents core', () => {
  const VAULT = 'adeap-weu-0123456789abcd';
  const waiter = (name: string): Waiter => ({ instanceId: `encrypt-${name}`, vmId: vmId(name), computerName: name });
  const adeTags = (machine: string) => ({ DiskEncryptionKeyFileName: '3f6d0c1e.BEK', MachineName: machine });
  const cases: Array<{ name: string; tags?: Record<string, string>; waiters: Waiter[]; raised?: string; reason?: RegExp }> = [
    {
      name: 'MachineName matches one waiter (case-insensitive)',
      tags: adeTags('VM-A'),
      waiters: [waiter('vm-a'), waiter('vm-b')],
      raised: 'encrypt-vm-a',
    },
    {
      name: 'Windows hostname cut to 15 characters',
      tags: adeTags('averylongvmname'),
      waiters: [waiter('averylongvmname-01'), waiter('other')],
      raised: 'encrypt-averylongvmname-01',
    },
    {
      name: 'unrelated secret (no DiskEncryptionKeyFileName tag)',
      tags: { purpose: 'app' },
      waiters: [waiter('vm-a')],
      reason: /not an ADE secret/,
    },
    { name: 'secret version no longer exists', tags: undefined, waiters: [waiter('vm-a')], reason: /was not found/ },
    { name: 'no waiter for the hostname', tags: adeTags('vm-z'), waiters: [waiter('vm-a')], reason: /no waiter has hostname/ },
    {
      name: 'ambiguous hostname',
      tags: adeTags('vm-a'),
      waiters: [waiter('vm-a'), { ...waiter('vm-a'), instanceId: 'encrypt-other-rg-vm-a' }],
      reason: /2 waiters/,
    },
    { name: 'empty MachineName (Linux) with a single waiter', tags: adeTags(''), waiters: [waiter('vm-l')], raised: 'encrypt-vm-l' },
    {
      name: 'empty MachineName with several waiters',
      tags: adeTags(''),
      waiters: [waiter('vm-a'), waiter('vm-b')],
      reason: /MachineName tag missing or empty/,
    },
    { name: 'nobody waiting', tags: adeTags('vm-a'), waiters: [], reason: /no orchestration is waiting/ },
  ];
  it.each(cases)('$name', async ({ tags, waiters, raised, reason }) => {
    const raises: Array<{ instanceId: string; payload: unknown }> = [];
    const vaultsRead: string[] = [];
    const deps: SecretEventsDeps = {
      findSecretVersionProperties: async (url) =>
        tags ? { id: url, vaultUrl: `https://${VAULT}.vault.azure.net`, name: '3f6d0c1e', version: 'v', tags } : undefined,
      readWaiters: async (vault) => {
        vaultsRead.push(vault);
        return waiters;
      },
      raise: async (instanceId, _name, payload) => {
        raises.push({ instanceId, payload });
      },
      log: () => undefined,
    };
    const results = await handleSecretEvents([fixture('secret-new-version-event.json')], deps);
    if (raised) {
      expect(raises).toEqual([
        { instanceId: raised, payload: { secretUrl: fixture('secret-new-version-event.json').data.Id, vaultName: VAULT } },
      ]);
      expect(results[0]).toMatchObject({ action: 'raised', instanceId: raised });
    } else {
      expect(raises).toEqual([]);
      expect(results[0]).toMatchObject({ action: 'ignored' });
      expect((results[0] as { reason: string }).reason).toMatch(reason!);
    }
  });

  it('ignores other Key Vault events without any Key Vault call', async () => {
    const event = { ...fixture('secret-new-version-event.json'), eventType: 'Microsoft.KeyVault.SecretNearExpiry' };
    let calls = 0;
    const deps: SecretEventsDeps = {
      findSecretVersionProperties: async () => (calls++, undefined),
      readWaiters: async () => [],
      raise: async () => undefined,
      log: () => undefined,
    };
    const results = await handleSecretEvents([event], deps);
    expect(calls).toBe(0);
    expect(results[0]).toMatchObject({ action: 'ignored' });
  });

  it('a purged waiting instance is not an error; other failures are (Event Grid retries)', async () => {
    const base: SecretEventsDeps = {
      findSecretVersionProperties: async (url) => ({ id: url, vaultUrl: '', name: 'n', version: 'v', tags: adeTags('vm-a') }),
      readWaiters: async () => [waiter('vm-a')],
      raise: async () => {
        throw new Error("No instance with ID 'encrypt-vm-a' found.");
      },
      log: () => undefined,
    };
    await expect(handleSecretEvents([fixture('secret-new-version-event.json')], base)).resolves.toMatchObject([{ action: 'ignored' }]);
    const failing = { ...base, findSecretVersionProperties: async () => Promise.reject(new TransientError('Key Vault 503')) };
    await expect(handleSecretEvents([fixture('secret-new-version-event.json')], failing)).rejects.toThrow(/Key Vault 503/);
  });
});

describe('entities', () => {
  it('vaultWaiters: register replaces by instance id, unregister deletes the entity when empty', () => {
    let state = waitersEntityStep(undefined, { name: 'register', input: { instanceId: 'a', vmId: 'vm-a', computerName: 'A' } }).state;
    state = waitersEntityStep(state, { name: 'register', input: { instanceId: 'b', vmId: 'vm-b', computerName: 'B' } }).state;
    state = waitersEntityStep(state, { name: 'register', input: { instanceId: 'a', vmId: 'vm-a', computerName: 'A2' } }).state;
    expect(state?.waiters.map((w) => `${w.instanceId}:${w.computerName}`)).toEqual(['b:B', 'a:A2']);
    state = waitersEntityStep(state, { name: 'unregister', input: { instanceId: 'b' } }).state;
    state = waitersEntityStep(state, { name: 'unregister', input: { instanceId: 'a' } }).state;
    expect(state).toBeUndefined();
    expect(() => waitersEntityStep(undefined, { name: 'bogus', input: null })).toThrow(/unknown operation "bogus"/);
  });

  it.each([
    [[], 'x', undefined],
    [[{ instanceId: 'i', vmId: 'v', computerName: 'Web01' }], 'WEB01', 'i'],
    [[{ instanceId: 'i', vmId: 'v', computerName: 'Web01' }], 'web02', undefined],
  ] as Array<[Waiter[], string, string | undefined]>)('matchWaiter(%j, %s)', (waiters, machine, expected) => {
    expect(matchWaiter(waiters, machine).waiter?.instanceId).toBe(expected);
  });
});

describe('secret correlation by computerName', () => {
  const facts = (name: string, osType: 'Windows' | 'Linux', computerName?: string) => ({
    id: vmId(name),
    name,
    osType,
    ...(computerName ? { computerName } : {}),
  });
  it.each([
    {
      name: 'Windows, computerName known',
      vm: facts('web-frontend-prod-01', 'Windows', 'WEBFE01'),
      expected: { computerName: 'WEBFE01', hostnameSource: 'os-profile', osType: 'Windows' as const },
    },
    {
      name: 'Linux, computerName known',
      vm: facts('api-01', 'Linux', 'api-host-westeurope-01'),
      expected: { computerName: 'api-host-westeurope-01', hostnameSource: 'os-profile', osType: 'Linux' as const },
    },
    {
      name: 'Windows, no OS profile: VM name cut to 15',
      vm: facts('web-frontend-prod-01', 'Windows'),
      expected: { computerName: 'web-frontend-pr', hostnameSource: 'vm-name', osType: 'Windows' as const },
    },
    {
      name: 'Linux, no OS profile: VM name',
      vm: facts('api-frontend-prod-01', 'Linux'),
      expected: { computerName: 'api-frontend-prod-01', hostnameSource: 'vm-name', osType: 'Linux' as const },
    },
  ])('waiterFor: $name', ({ vm, expected }) => {
    expect(waiterFor('encrypt-x', vm)).toEqual({ instanceId: 'encrypt-x', vmId: vm.id, ...expected });
  });

  const known = (id: string, computerName: string): Waiter => ({
    instanceId: id,
    vmId: vmId(id),
    computerName,
    hostnameSource: 'os-profile',
  });
  const derived = (id: string, computerName: string): Waiter => ({
    instanceId: id,
    vmId: vmId(id),
    computerName,
    hostnameSource: 'vm-name',
  });
  const legacy = (id: string, computerName: string): Waiter => ({ instanceId: id, vmId: vmId(id), computerName });
  it.each([
    {
      name: 'computerName differs from the VM name: matched by computerName',
      waiters: [known('vm-a', 'HOST-A'), known('vm-b', 'HOST-B')],
      machine: 'host-b',
      expected: 'vm-b',
    },
    { name: 'computerName known: the VM name is not a match', waiters: [known('web01', 'HOST-A')], machine: 'web01', expected: undefined },
    {
      name: 'computerName known: long Linux hostnames sharing 15 chars are told apart',
      waiters: [known('a', 'app-frontend-westeurope-01'), known('b', 'app-frontend-westeurope-02')],
      machine: 'app-frontend-westeurope-02',
      expected: 'b',
    },
    {
      name: 'computerName known: a 15-char prefix is not a match',
      waiters: [known('a', 'app-frontend-westeurope-01')],
      machine: 'app-frontend-we',
      expected: undefined,
    },
    {
      name: 'fallback (no OS profile): 15-char NetBIOS cut still matches',
      waiters: [derived('a', 'web-frontend-prod-01')],
      machine: 'WEB-FRONTEND-PR',
      expected: 'a',
    },
    {
      name: 'fallback with long names sharing 15 chars: ambiguous',
      waiters: [derived('a', 'app-frontend-westeurope-01'), derived('b', 'app-frontend-westeurope-02')],
      machine: 'app-frontend-westeurope-02',
      expected: undefined,
    },
    {
      name: 'mixed: the known computerName wins over a derived guess that differs',
      waiters: [known('a', 'sql01'), derived('b', 'web01')],
      machine: 'SQL01',
      expected: 'a',
    },
    {
      name: 'waiter registered before hostnameSource existed: the VM-name rule',
      waiters: [legacy('a', 'averylongvmname-01')],
      machine: 'averylongvmname',
      expected: 'a',
    },
    {
      name: 'no MachineName tag (Linux dual-pass): the one Linux waiter among Windows waiters',
      waiters: [
        { ...known('win', 'WIN01'), osType: 'Windows' as const },
        { ...known('lnx', 'lnx01'), osType: 'Linux' as const },
      ],
      machine: undefined,
      expected: 'lnx',
    },
    {
      name: 'empty MachineName tag (Linux single-pass, odd hostname): two Linux waiters are ambiguous',
      waiters: [
        { ...known('l1', 'a.b'), osType: 'Linux' as const },
        { ...known('l2', 'c.d'), osType: 'Linux' as const },
      ],
      machine: '',
      expected: undefined,
    },
    {
      name: 'no MachineName tag and only Windows waiters: none (Windows always writes it)',
      waiters: [{ ...known('win', 'WIN01'), osType: 'Windows' as const }],
      machine: undefined,
      expected: undefined,
    },
    {
      name: 'no MachineName tag, a waiter of unknown OS (registered before osType existed): it is a candidate',
      waiters: [{ ...known('win', 'WIN01'), osType: 'Windows' as const }, legacy('old', 'old01')],
      machine: undefined,
      expected: 'old',
    },
    {
      name: 'empty waiter hostname never matches a named secret',
      waiters: [known('a', 'x'), legacy('b', '')],
      machine: 'y',
      expected: undefined,
    },
  ])('matchWaiter: $name', ({ waiters, machine, expected }) => {
    expect(matchWaiter(waiters, machine).waiter?.instanceId).toBe(expected);
  });

  it('register keeps the hostname source; unregister still removes it', () => {
    const state = waitersEntityStep(undefined, { name: 'register', input: known('a', 'HOST-A') }).state;
    expect(state?.waiters).toEqual([known('a', 'HOST-A')]);
    expect(waitersEntityStep(state, { name: 'unregister', input: { instanceId: 'a' } }).state).toBeUndefined();
  });
});

describe('secretEvents destination', () => {
  it.each([
    [
      { ADE_SECRET_EVENTS_WEBHOOK_URL: 'http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=secretEvents&code=k' },
      { kind: 'webhook', endpointUrl: 'http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=secretEvents&code=k' },
    ],
    [
      // Elastic Premium: the platform names the resource group too; the explicit setting is what counts.
      {
        ADE_FUNCTION_APP_RESOURCE_ID: `/subscriptions/${SUB}/resourceGroups/rg-ade/providers/Microsoft.Web/sites/func-ade`,
        WEBSITE_SITE_NAME: 'func-ade',
        WEBSITE_RESOURCE_GROUP: 'rg-ade',
        WEBSITE_OWNER_NAME: `${SUB}+rg-ade-WestEuropewebspace-Linux`,
      },
      {
        kind: 'azure-function',
        resourceId: `/subscriptions/${SUB}/resourceGroups/rg-ade/providers/Microsoft.Web/sites/func-ade/functions/secretEvents`,
      },
    ],
    [
      // Flex Consumption: no WEBSITE_RESOURCE_GROUP, a hash in WEBSITE_OWNER_NAME.
      {
        ADE_FUNCTION_APP_RESOURCE_ID: `/subscriptions/${SUB}/resourceGroups/rg-ade/providers/Microsoft.Web/sites/func-ade`,
        WEBSITE_SITE_NAME: 'func-ade',
        WEBSITE_OWNER_NAME: `${SUB}+flex-99ddf98v18fee2c3d86cb4d0f37573099297d5124520437bfa4ee00d9fc8ff8e-webspace`,
      },
      {
        kind: 'azure-function',
        resourceId: `/subscriptions/${SUB}/resourceGroups/rg-ade/providers/Microsoft.Web/sites/func-ade/functions/secretEvents`,
      },
    ],
    // The platform variables alone no longer make a destination (they cannot on Flex Consumption).
    [
      { WEBSITE_SITE_NAME: 'func-ade', WEBSITE_RESOURCE_GROUP: 'rg-ade', ADE_SECRET_EVENTS_WEBHOOK_URL: 'https://hook.example/x' },
      { kind: 'webhook' },
    ],
    [{}, undefined],
  ] as Array<[Record<string, string>, unknown]>)('%j', (env, expected) => {
    const destination = secretEventsDestination(loadConfig({ ADE_SUBSCRIPTIONS: SUB, ...env }));
    if (expected === undefined) expect(destination).toBeUndefined();
    else expect(destination).toMatchObject(expected as object);
  });

  it('rejects a webhook setting that is not a URL, naming the setting', () => {
    expect(() => loadConfig({ ADE_SUBSCRIPTIONS: SUB, ADE_SECRET_EVENTS_WEBHOOK_URL: 'secretEvents' })).toThrow(
      /ADE_SECRET_EVENTS_WEBHOOK_URL/,
    );
  });
});
