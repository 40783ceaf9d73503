/**
 * Hostile inputs, generated from a table of mutations of a VM id (path traversal, encoded separators,
 * control characters, over-long and empty segments, foreign subscriptions, made-up VMs) and of whole
 * bodies (oversized batches, wrong shapes), sent through every HTTP starter and every Event Grid trigger
 * of the app on the local host: each is answered 4xx (HTTP) or logged and acknowledged 2xx (Event Grid),
 * and together they start no orchestration and make no write to Azure (the simulator's request log).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { MAX_ALERT_TARGETS } from '../../core/events';
import { orchestrationInstanceId, vaultNamesFor } from '../../core/names';
import { appRequests } from './checks';
import { HUB_KEYS, startPipeline, VAULT_RG, type Pipeline } from './harness';
import { monitorAlert, policyStateChanged } from '../fixtures/signals';

let p: Pipeline;
let realVm = '';
let startSeq = 0;
let instancesBefore = 0;
let countsBefore: Record<string, number> = {};
const operationCounts = async () => (await p.control<{ byOperation: Record<string, number> }>('GET', '/_sim/requests/counts')).byOperation;

beforeAll(async () => {
  p = await startPipeline({ mode: 'single-pass', kek: false, armEvents: false });
  realVm = await p.createVm('vm-real', { os: 'Linux' });
  instancesBefore = (await p.listInstances()).length;
  startSeq = (await p.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;
  countsBefore = await operationCounts();
}, 180_000);

afterAll(async () => {
  await p?.stop();
});

const SUB = () => p.subscriptionId;
const vmIdOf = (sub: string, rg: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;

/** Mutations of a VM id: each must be refused or dropped. `field` is what a 400 must name. */
const ID_MUTATIONS: [what: string, id: () => string][] = [
  ['name ..', () => vmIdOf(SUB(), 'rg-app', '..')],
  ['name .', () => vmIdOf(SUB(), 'rg-app', '.')],
  ['name %2E%2E', () => vmIdOf(SUB(), 'rg-app', '%2E%2E')],
  ['name %2e%2e%2f', () => vmIdOf(SUB(), 'rg-app', '%2e%2e%2f')],
  ['name with %2F', () => vmIdOf(SUB(), 'rg-app', 'vm-real%2F..%2F..%2Fvm-x')],
  ['name with %00', () => vmIdOf(SUB(), 'rg-app', 'vm-real%00')],
  ['name with NUL', () => vmIdOf(SUB(), 'rg-app', 'vm-real\u0000')],
  ['name with newline', () => vmIdOf(SUB(), 'rg-app', 'vm-real\nx')],
  ['name with DEL', () => vmIdOf(SUB(), 'rg-app', 'vm\u007freal')],
  ['name with backslash', () => vmIdOf(SUB(), 'rg-app', '..\\..\\vm-real')],
  ['name with ?', () => vmIdOf(SUB(), 'rg-app', 'vm-real?api-version=1')],
  ['name with #', () => vmIdOf(SUB(), 'rg-app', 'vm-real#x')],
  ['name with space', () => vmIdOf(SUB(), 'rg-app', 'vm real')],
  ['name ending in -', () => vmIdOf(SUB(), 'rg-app', 'vm-real-')],
  ['name ending in .', () => vmIdOf(SUB(), 'rg-app', 'vm-real.')],
  ['name starting with _', () => vmIdOf(SUB(), 'rg-app', '_vm-real')],
  ['name over 64 chars', () => vmIdOf(SUB(), 'rg-app', 'v'.repeat(65))],
  ['name over 260 chars', () => vmIdOf(SUB(), 'rg-app', 'v'.repeat(300))],
  ['empty name', () => `/subscriptions/${SUB()}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/`],
  ['double slash name', () => vmIdOf(SUB(), 'rg-app', '/vm-real')],
  ['rg ..', () => vmIdOf(SUB(), '..', 'vm-real')],
  ['rg %2E%2E', () => vmIdOf(SUB(), '%2E%2E', 'vm-real')],
  ['rg with %2F', () => vmIdOf(SUB(), 'rg-app%2F..', 'vm-real')],
  ['rg with tab', () => vmIdOf(SUB(), 'rg-app\t', 'vm-real')],
  ['rg over 90 chars', () => vmIdOf(SUB(), 'r'.repeat(91), 'vm-real')],
  ['empty rg', () => vmIdOf(SUB(), '', 'vm-real')],
  ['subscription not a GUID', () => vmIdOf('not-a-guid', 'rg-app', 'vm-real')],
  ['subscription ..', () => vmIdOf('..', 'rg-app', 'vm-real')],
  ['subscription %2E%2E', () => vmIdOf('%2E%2E', 'rg-app', 'vm-real')],
  ['subscription out of scope', () => vmIdOf(randomUUID(), 'rg-app', 'vm-real')],
  ['empty subscription', () => vmIdOf('', 'rg-app', 'vm-real')],
  ['a VM that does not exist', () => vmIdOf(SUB(), 'rg-app', 'vm-made-up')],
  ['a resource group that does not exist', () => vmIdOf(SUB(), 'rg-made-up', 'vm-real')],
  ['a scale set', () => realVm.replace('virtualMachines', 'virtualMachineScaleSets')],
  ['provider with ..', () => realVm.replace('Microsoft.Compute', 'Microsoft.Compute/..')],
  ['nested providers', () => `${realVm}/providers/Microsoft.Compute/virtualMachines/vm-real`],
  ['id over 2048 chars', () => `${realVm}${'/extensions/x'.repeat(200)}`],
  ['relative id', () => realVm.slice(1)],
  ['URL instead of id', () => `https://management.azure.com${realVm}`],
];

/** How each id reaches the app. HTTP carriers must answer 4xx; Event Grid carriers 2xx (logged drop). */
type Carrier = { name: string; kind: 'http' | 'eventgrid'; send: (id: string) => Promise<Response> };

function post(path: string, body: unknown) {
  return p.host.fetch(`${path}?code=${HUB_KEYS.function}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function alert(targets: unknown) {
  return monitorAlert(SUB(), targets);
}

function armEvent(eventType: string, resourceUri: string, operationName: string) {
  return {
    id: randomUUID(),
    topic: `/subscriptions/${SUB()}`,
    subject: resourceUri,
    eventType,
    eventTime: new Date().toISOString(),
    dataVersion: '2',
    metadataVersion: '1',
    data: { resourceUri, operationName, status: 'Succeeded', subscriptionId: SUB() },
  };
}

function policyEvent(vmId: string) {
  return policyStateChanged(SUB(), vmId);
}

const CARRIERS: Carrier[] = [
  { name: 'POST /api/vms/encrypt', kind: 'http', send: (id) => post('/api/vms/encrypt', { vmId: id }) },
  { name: 'POST /api/vms/heal', kind: 'http', send: (id) => post('/api/vms/heal', { vmId: id }) },
  { name: 'POST /api/alerts', kind: 'http', send: (id) => post('/api/alerts', alert([id])) },
  {
    name: 'vmWritten',
    kind: 'eventgrid',
    send: (id) =>
      p.host.postEventGrid('vmWritten', [
        armEvent('Microsoft.Resources.ResourceWriteSuccess', id, 'Microsoft.Compute/virtualMachines/write'),
      ]),
  },
  { name: 'policyStates', kind: 'eventgrid', send: (id) => p.host.postEventGrid('policyStates', [policyEvent(id)]) },
  {
    name: 'armDrift (extension deleted)',
    kind: 'eventgrid',
    send: (id) =>
      p.host.postEventGrid('armDrift', [
        armEvent(
          'Microsoft.Resources.ResourceDeleteSuccess',
          `${id}/extensions/AzureDiskEncryption`,
          'Microsoft.Compute/virtualMachines/extensions/delete',
        ),
      ]),
  },
];

/** Whole-body mutations, per carrier. */
const BODY_CASES: [what: string, kind: 'http' | 'eventgrid', send: () => Promise<Response>][] = [
  ['encrypt: vmId a number', 'http', () => post('/api/vms/encrypt', { vmId: 42 })],
  ['encrypt: vmId null', 'http', () => post('/api/vms/encrypt', { vmId: null })],
  ['encrypt: vmId an array', 'http', () => post('/api/vms/encrypt', { vmId: [realVm] })],
  ['encrypt: body an array', 'http', () => post('/api/vms/encrypt', [{ vmId: realVm }])],
  ['encrypt: not JSON', 'http', () => post('/api/vms/encrypt', '{"vmId":')],
  ['heal: empty body', 'http', () => post('/api/vms/heal', '')],
  ['heal: vmId an object', 'http', () => post('/api/vms/heal', { vmId: { id: realVm } })],
  ['alerts: too many targets', 'http', () => post('/api/alerts', alert(Array.from({ length: MAX_ALERT_TARGETS + 1 }, () => realVm)))],
  ['alerts: targets not an array', 'http', () => post('/api/alerts', alert(realVm))],
  ['alerts: a target not a string', 'http', () => post('/api/alerts', alert([realVm, 7]))],
  ['alerts: wrong schema', 'http', () => post('/api/alerts', { ...alert([realVm]), schemaId: 'Microsoft.Insights/activityLogs' })],
  [
    'alerts: Resolved',
    'http',
    () =>
      post('/api/alerts', {
        ...alert([realVm]),
        data: { ...alert([realVm]).data, essentials: { ...alert([realVm]).data.essentials, monitorCondition: 'Resolved' } },
      }),
  ],
  ['sweep: kind ../x', 'http', () => post('/api/sweep?kind=../x', '')],
  ['sweep: dryRun maybe', 'http', () => post('/api/sweep?dryRun=maybe', '')],
  ['runs: traversal', 'http', () => p.host.fetch(`/api/runs/..%2F..%2Fadmin?code=${HUB_KEYS.function}`)],
  [
    'armDrift: a batch of 50 hostile events',
    'eventgrid',
    () =>
      p.host.postEventGrid(
        'armDrift',
        ID_MUTATIONS.slice(0, 50).map(([, id]) =>
          armEvent(
            'Microsoft.Resources.ResourceDeleteSuccess',
            `${id()}/extensions/AzureDiskEncryption`,
            'Microsoft.Compute/virtualMachines/extensions/delete',
          ),
        ),
      ),
  ],
  [
    'armDrift: event without data',
    'eventgrid',
    () => p.host.postEventGrid('armDrift', [{ ...armEvent('Microsoft.Resources.ResourceDeleteSuccess', realVm, 'x'), data: null }]),
  ],
  // The host itself refuses a webhook body that is not events (400), before the app sees it.
  ['armDrift: a string', 'http', () => p.host.postEventGrid('armDrift', 'hello' as never)],
  ['policyStates: empty batch', 'eventgrid', () => p.host.postEventGrid('policyStates', [])],
  [
    'policyStates: subject and data disagree',
    'eventgrid',
    () => p.host.postEventGrid('policyStates', [{ ...policyEvent(realVm), subject: vmIdOf(SUB(), '..', 'x') }]),
  ],
  [
    'armDrift: vault outside the vault resource group',
    'eventgrid',
    () =>
      p.host.postEventGrid('armDrift', [
        armEvent(
          'Microsoft.Resources.ResourceWriteSuccess',
          `/subscriptions/${SUB()}/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-not-ours`,
          'Microsoft.KeyVault/vaults/write',
        ),
      ]),
  ],
  [
    'armDrift: vault name ..',
    'eventgrid',
    () =>
      p.host.postEventGrid('armDrift', [
        armEvent(
          'Microsoft.Resources.ResourceWriteSuccess',
          `/subscriptions/${SUB()}/resourceGroups/rg-ade-vaults/providers/Microsoft.KeyVault/vaults/..`,
          'Microsoft.KeyVault/vaults/write',
        ),
      ]),
  ],
  [
    'vmWritten: CloudEvent with a traversal subject',
    'eventgrid',
    () =>
      p.host.postEventGrid('vmWritten', [
        {
          specversion: '1.0',
          id: randomUUID(),
          source: `/subscriptions/${SUB()}`,
          subject: vmIdOf(SUB(), 'rg-app', '%2E%2E'),
          type: 'Microsoft.Resources.ResourceWriteSuccess',
          time: new Date().toISOString(),
          data: {
            resourceUri: vmIdOf(SUB(), 'rg-app', '%2E%2E'),
            operationName: 'Microsoft.Compute/virtualMachines/write',
            status: 'Succeeded',
          },
        },
      ]),
  ],
];

const ID_CASES = CARRIERS.flatMap((carrier) =>
  ID_MUTATIONS.map(([what, id]): [string, 'http' | 'eventgrid', () => Promise<Response>] => [
    `${carrier.name}: ${what}`,
    carrier.kind,
    () => carrier.send(id()),
  ]),
);
const ALL = [...ID_CASES, ...BODY_CASES];

describe(`${ALL.length} hostile inputs`, () => {
  it('the table is large enough to mean something', () => {
    expect(ALL.length).toBeGreaterThanOrEqual(200);
  });

  it.each(ALL)('%s → refused (HTTP 4xx) or dropped (Event Grid 2xx)', async (_what, kind, send) => {
    const res = await send();
    const text = await res.text();
    if (kind === 'http') {
      expect(res.status, text).toBeGreaterThanOrEqual(400);
      expect(res.status, text).toBeLessThan(500);
      if (res.status === 400) expect(text).toMatch(/vmId|alert|kind|dryRun|instanceId|body|[Ee]vent/);
    } else {
      expect(res.status, text).toBeGreaterThanOrEqual(200);
      expect(res.status, text).toBeLessThan(300);
    }
  });

  it('together they started no orchestration and wrote nothing to Azure', async () => {
    await p.host.durable.idle();
    const instances = await p.listInstances();
    expect(instances.map((i) => `${i.name} ${i.instanceId}`)).toHaveLength(instancesBefore);
    const writes = (await appRequests(p, startSeq)).filter(
      (e) => !['GET', 'HEAD'].includes(e.method) && !/token|oauth/i.test(`${e.operation} ${e.path}`),
    );
    expect(writes).toEqual([]);
    const grown = Object.entries(await operationCounts())
      .filter(([op, n]) => n > (countsBefore[op] ?? 0))
      .map(([op]) => op);
    // Only token requests and reads (the existence checks): no `/write`, `/delete` or `/action` of any service.
    expect(grown).toContain('arm:Microsoft.Compute/virtualMachines/read');
    expect(grown.filter((op) => !/^login:|\/read$/.test(op))).toEqual([]);
  });
});

describe('a forged encryptVm start (someone holding the Durable system key)', () => {
  it('with a policy that drops the exclusions changes nothing for an excluded VM: eligibility comes from the app', async () => {
    const excluded = await p.createVm('vm-excluded', { os: 'Linux', tags: { 'ade-autopilot': 'skip' } });
    const since = (await p.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;
    const appPolicy = toEncryptionPolicy(loadConfig(process.env));
    const forged = {
      ...appPolicy,
      scope: { ...appPolicy.scope, exclusionTag: { name: 'no-such-tag' }, excludeResourceGroups: [] },
    };
    const instanceId = orchestrationInstanceId(excluded);
    const res = await p.host.fetch(`/runtime/webhooks/durabletask/orchestrators/encryptVm/${instanceId}?code=${HUB_KEYS.durable}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vmId: excluded, policy: forged }),
    });
    expect(res.status).toBe(202);
    const done = await p.waitForInstance(instanceId);
    expect(done.output, JSON.stringify(done.output)).toMatchObject({ outcome: 'skipped' });
    expect(done.output.reason).toMatch(/exclusion tag/);
    const writes = (await appRequests(p, since)).filter(
      (e) => !['GET', 'HEAD'].includes(e.method) && !/token|oauth/i.test(`${e.operation} ${e.path}`),
    );
    expect(writes).toEqual([]);
  }, 60_000);

  it("with a policy naming another vault group, prefix and mode encrypts into the app's own vault (naming from the app)", async () => {
    const vmId = await p.createVm('vm-forged-vault', { os: 'Linux' });
    const appPolicy = toEncryptionPolicy(loadConfig(process.env));
    const forged = {
      ...appPolicy,
      mode: 'aad',
      vault: { ...appPolicy.vault, resourceGroup: 'rg-app', namePrefix: 'evil', strategy: 'per-vm' },
      kek: { ...appPolicy.kek, enabled: true, size: 4096 },
    };
    const instanceId = orchestrationInstanceId(vmId);
    const res = await p.host.fetch(`/runtime/webhooks/durabletask/orchestrators/encryptVm/${instanceId}?code=${HUB_KEYS.durable}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vmId, policy: forged }),
    });
    expect(res.status).toBe(202);
    const done = await p.waitForInstance(instanceId, 120_000);
    expect(done.output, JSON.stringify(done.output)).toMatchObject({ outcome: 'encrypted', mode: 'single-pass' });
    const expected = vaultNamesFor(appPolicy.vault, { id: vmId, subscriptionId: p.subscriptionId, location: 'westeurope' })[0];
    expect(done.output.vaultName).toBe(expected);
    const vm = await p.compute.virtualMachines.get('rg-app', 'vm-forged-vault');
    const settings = (vm.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security')?.settings as Record<string, string>;
    expect(settings.KeyVaultResourceId.toLowerCase()).toBe(
      `/subscriptions/${p.subscriptionId}/resourceGroups/${VAULT_RG}/providers/Microsoft.KeyVault/vaults/${expected}`.toLowerCase(),
    );
    expect(settings.KeyEncryptionKeyURL).toBeUndefined();
    // Nothing was created where the forged policy pointed.
    expect(
      (await appRequests(p)).filter((e) => /\/vaults\/evil-|resourceGroups\/rg-app\/providers\/Microsoft\.KeyVault/i.test(e.path)),
    ).toEqual([]);
  }, 150_000);
});
