/**
 * The fleet status API's handler cores (functions/lib/fleet.ts) over a store of orchestration records shaped as the
 * Durable status API returns them: every filter, paging, counts, a VM with several runs, unknown VMs and bad ids.
 */
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../core/fleet-status';
import { orchestrationInstanceId, scaleSetInstanceId } from '../../core/names';
import { durableRunStore, handleListVms, handleSummary, handleVmDetail, instancesUrl, type RunStore } from '../../functions/lib/fleet';

const SUB_A = '00000000-0000-0000-0000-00000000000a';
const SUB_B = '00000000-0000-0000-0000-00000000000b';
const vmId = (sub: string, rg: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
const NOW = Date.parse('2026-06-01T12:00:00Z');
const at = (minutesAgo: number) => new Date(NOW - minutesAgo * 60_000).toISOString();

interface EncryptSpec {
  vm: string;
  runtimeStatus?: string;
  phase?: string;
  outcome?: string;
  reason?: string;
  os?: 'Windows' | 'Linux';
  mode?: 'aad' | 'single-pass';
  started?: number;
  updated?: number;
}

function encryptRun(s: EncryptSpec): RunRecord {
  const runtimeStatus = s.runtimeStatus ?? 'Completed';
  const done = runtimeStatus !== 'Running' && runtimeStatus !== 'Pending';
  return {
    instanceId: orchestrationInstanceId(s.vm),
    name: 'encryptVm',
    runtimeStatus,
    customStatus: {
      orchestration: 'encryptVm',
      vmId: s.vm,
      phase: s.phase ?? (done ? (s.outcome === 'failed' ? 'failed' : 'done') : 'deploying-extension'),
      ...(s.os ? { osType: s.os } : {}),
      ...(s.mode ? { mode: s.mode, vaultName: 'adeap-weu-0123456789abc' } : {}),
    },
    output: done
      ? {
          vmId: s.vm,
          outcome: s.outcome ?? 'encrypted',
          ...(s.reason ? { reason: s.reason } : {}),
          ...(s.os ? { osType: s.os } : {}),
          ...(s.mode ? { mode: s.mode, vaultName: 'adeap-weu-0123456789abc' } : {}),
          ...((s.outcome ?? 'encrypted') === 'encrypted'
            ? {
                disks: [
                  { name: 'os', role: 'os', encryption: 'EncryptionState/encrypted' },
                  { name: 'data0', role: 'data', encryption: 'EncryptionState/encrypted' },
                ],
              }
            : {}),
        }
      : null,
    createdTime: at(s.started ?? 30),
    lastUpdatedTime: at(s.updated ?? 20),
  };
}

const WIN_ENC = vmId(SUB_A, 'rg-app', 'win-01');
const LNX_ENC = vmId(SUB_A, 'rg-app', 'lnx-01');
const WIN_RUN = vmId(SUB_A, 'rg-web', 'win-02');
const LNX_FAIL = vmId(SUB_B, 'rg-app', 'lnx-02');
const WIN_SKIP = vmId(SUB_B, 'rg-data', 'win-03');
const HEALED = vmId(SUB_B, 'rg-data', 'lnx-03');

const RECORDS: RunRecord[] = [
  encryptRun({ vm: WIN_ENC, os: 'Windows', mode: 'aad' }),
  encryptRun({ vm: LNX_ENC, os: 'Linux', mode: 'single-pass' }),
  encryptRun({ vm: WIN_RUN, os: 'Windows', mode: 'single-pass', runtimeStatus: 'Running', started: 90 }),
  encryptRun({
    vm: LNX_FAIL,
    os: 'Linux',
    mode: 'single-pass',
    outcome: 'failed',
    reason: 'ensureDiskEncryptionVault: AuthorizationFailed: the client does not have authorization to perform action',
    updated: 60,
  }),
  encryptRun({ vm: WIN_SKIP, os: 'Windows', outcome: 'skipped', reason: 'excluded by tag ade-autopilot=off' }),
  // A VM with three runs: encrypted long ago, its BEK went missing, a restore found the secret purged; a later
  // remediation attempt is the newest run.
  encryptRun({ vm: HEALED, os: 'Linux', mode: 'single-pass', started: 3000, updated: 2990 }),
  {
    instanceId: orchestrationInstanceId(HEALED, 'restore'),
    name: 'restoreBek',
    runtimeStatus: 'Completed',
    customStatus: { orchestration: 'restoreBek', vmId: HEALED, phase: 'done' },
    output: {
      vmId: HEALED,
      outcome: 'unrecoverable',
      reason: 'the BEK secret was purged',
      steps: [],
      problems: [
        {
          secretName: 's1',
          vaultName: 'v1',
          secretUrl: 'https://v1.vault.azure.net/secrets/s1/1',
          what: 'purged',
          operatorAction: 'Restore the secret s1 from your backup into v1, then POST /api/vms/heal.',
        },
      ],
    },
    createdTime: at(50),
    lastUpdatedTime: at(45),
  },
  {
    instanceId: orchestrationInstanceId(HEALED, 'remediate'),
    name: 'remediateVm',
    runtimeStatus: 'Completed',
    customStatus: { orchestration: 'remediateVm', phase: 'done', target: { kind: 'vm', vmId: HEALED } },
    output: {
      target: { kind: 'vm', vmId: HEALED },
      action: 'nothing',
      reason: 'a restore is already running',
      result: 'skipped',
      signal: { source: 'bek-sweep', why: 'BEK missing' },
    },
    createdTime: at(10),
    lastUpdatedTime: at(9),
  },
  // Not a VM run: a vault remediation and a sweep are not fleet rows.
  {
    instanceId: 'remediate-vault-adeap-weu-0123456789abc-0123456789ab',
    name: 'remediateVm',
    runtimeStatus: 'Completed',
    customStatus: { orchestration: 'remediateVm', phase: 'done', target: { kind: 'vault', vaultId: '/x' } },
    output: null,
    createdTime: at(5),
    lastUpdatedTime: at(5),
  },
];
const SWEEP: RunRecord = {
  instanceId: 'sweep-backfill',
  name: 'sweep',
  runtimeStatus: 'Running',
  customStatus: { orchestration: 'sweep', kind: 'backfill', dryRun: true, queued: 0 },
  output: null,
  createdTime: at(2),
  lastUpdatedTime: at(1),
};

function store(records: readonly RunRecord[] = [...RECORDS, SWEEP]): RunStore & { queried: string[] } {
  const queried: string[] = [];
  return {
    queried,
    listByPrefix: (prefix) => {
      queried.push(prefix);
      return Promise.resolve(records.filter((r) => r.instanceId.startsWith(prefix)));
    },
    get: (id) => Promise.resolve(records.find((r) => r.instanceId === id)),
  };
}

const q = (params: object) => new URLSearchParams(params as Record<string, string>);
const names = (body: Record<string, unknown>) => (body.vms as Array<{ name: string }>).map((v) => v.name);

describe('GET /api/vms', () => {
  it.each([
    { filter: {}, expected: ['lnx-01', 'win-01', 'win-02', 'lnx-02', 'lnx-03', 'win-03'] },
    { filter: { state: 'encrypted' }, expected: ['lnx-01', 'win-01'] },
    { filter: { state: 'pending' }, expected: ['win-02'] },
    { filter: { state: 'failed' }, expected: ['lnx-02', 'lnx-03'] },
    { filter: { state: 'skipped' }, expected: ['win-03'] },
    { filter: { state: 'FAILED' }, expected: ['lnx-02', 'lnx-03'] },
    { filter: { subscription: SUB_B }, expected: ['lnx-02', 'lnx-03', 'win-03'] },
    { filter: { subscription: SUB_B.toUpperCase() }, expected: ['lnx-02', 'lnx-03', 'win-03'] },
    { filter: { resourceGroup: 'rg-app' }, expected: ['lnx-01', 'win-01', 'lnx-02'] },
    { filter: { resourceGroup: 'RG-DATA' }, expected: ['lnx-03', 'win-03'] },
    { filter: { os: 'Windows' }, expected: ['win-01', 'win-02', 'win-03'] },
    { filter: { os: 'linux' }, expected: ['lnx-01', 'lnx-02', 'lnx-03'] },
    { filter: { mode: 'aad' }, expected: ['win-01'] },
    { filter: { mode: 'single-pass', state: 'failed' }, expected: ['lnx-02', 'lnx-03'] },
    { filter: { subscription: SUB_A, resourceGroup: 'rg-app', os: 'Linux' }, expected: ['lnx-01'] },
  ])('filters by $filter', async ({ filter, expected }) => {
    const answer = await handleListVms(q(filter), store());
    expect(answer.status).toBe(200);
    expect(names(answer.body)).toEqual(expected);
  });

  it('counts per state over every filter but state', async () => {
    const all = await handleListVms(q({}), store());
    expect(all.body.counts).toEqual({ pending: 1, encrypted: 2, failed: 2, skipped: 1, total: 6 });
    const failedOnly = await handleListVms(q({ state: 'failed', subscription: SUB_B }), store());
    expect(failedOnly.body.counts).toEqual({ pending: 0, encrypted: 0, failed: 2, skipped: 1, total: 3 });
  });

  it('pages with top and continuationToken until the last page, which has no token', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const answer = await handleListVms(q({ top: '4', ...(token ? { continuationToken: token } : {}) }), store());
      expect(answer.status).toBe(200);
      seen.push(...names(answer.body));
      token = answer.body.continuationToken as string | undefined;
      pages++;
    } while (token);
    expect(pages).toBe(2);
    expect(seen).toEqual(['lnx-01', 'win-01', 'win-02', 'lnx-02', 'lnx-03', 'win-03']);
    const filtered = await handleListVms(q({ state: 'failed', top: '1' }), store());
    const next = await handleListVms(
      q({ state: 'failed', top: '1', continuationToken: filtered.body.continuationToken as string }),
      store(),
    );
    expect([...names(filtered.body), ...names(next.body)]).toEqual(['lnx-02', 'lnx-03']);
    expect(next.body.continuationToken).toBeUndefined();
  });

  it('shows the in-flight phase, OS, mode and vault on each row, runs left out', async () => {
    const answer = await handleListVms(q({ state: 'pending' }), store());
    const [row] = answer.body.vms as Array<Record<string, unknown>>;
    expect(row).toMatchObject({ vmId: WIN_RUN, phase: 'deploying-extension', os: 'Windows', mode: 'single-pass', state: 'pending' });
    expect(row).not.toHaveProperty('runs');
  });

  it.each([
    { params: { state: 'done' }, field: 'state' },
    { params: { os: 'macos' }, field: 'os' },
    { params: { mode: 'dual' }, field: 'mode' },
    { params: { subscription: 'not-a-guid' }, field: 'subscription' },
    { params: { resourceGroup: 'rg/../x' }, field: 'resourceGroup' },
    { params: { top: '0' }, field: 'top' },
    { params: { top: '501' }, field: 'top' },
    { params: { top: '2.5' }, field: 'top' },
    { params: { continuationToken: 'bm90LWEtdm0' }, field: 'continuationToken' },
    { params: { continuationToken: '%%%' }, field: 'continuationToken' },
  ])('answers 400 naming $field for $params, and reads nothing', async ({ params, field }) => {
    const s = store();
    const answer = await handleListVms(q(params), s);
    expect(answer.status).toBe(400);
    expect(answer.body.field).toBe(field);
    expect(String(answer.body.error)).toContain(field);
    expect(s.queried).toEqual([]);
  });

  it('queries the store by the VM orchestrations’ instance-id prefixes only', async () => {
    const s = store();
    await handleListVms(q({}), s);
    expect(s.queried.sort()).toEqual(['encrypt-', 'remediate-', 'restore-']);
  });
});

describe('GET /api/vms/{subscription}/{resourceGroup}/{name}', () => {
  it('a VM with several runs: newest first, state from the newest run that tells, last error with the next step', async () => {
    const answer = await handleVmDetail({ subscription: SUB_B, resourceGroup: 'rg-data', name: 'lnx-03' }, store());
    expect(answer.status).toBe(200);
    const body = answer.body as Record<string, any>;
    expect(body.runs.map((r: { orchestration: string }) => r.orchestration)).toEqual(['remediateVm', 'restoreBek', 'encryptVm']);
    expect(body.runs[0]).toMatchObject({ outcome: 'nothing', failed: false, startedAt: at(10), endedAt: at(9) });
    expect(body.runs[1]).toMatchObject({ outcome: 'unrecoverable', failed: true, reason: 'the BEK secret was purged' });
    expect(body.state).toBe('failed');
    expect(body.lastError).toEqual({
      instanceId: orchestrationInstanceId(HEALED, 'restore'),
      reason: 'the BEK secret was purged',
      nextStep: 'Restore the secret s1 from your backup into v1, then POST /api/vms/heal.',
      at: at(45),
    });
    expect(body).toMatchObject({ os: 'Linux', mode: 'single-pass', vaultName: 'adeap-weu-0123456789abc' });
    expect(body.disks).toHaveLength(2);
  });

  it('an encrypted VM: its disks and vault, no error', async () => {
    const answer = await handleVmDetail({ subscription: SUB_A, resourceGroup: 'rg-app', name: 'win-01' }, store());
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ state: 'encrypted', phase: 'done', vmId: WIN_ENC, mode: 'aad' });
    expect(answer.body.disks).toEqual([
      { name: 'os', role: 'os', encryption: 'EncryptionState/encrypted' },
      { name: 'data0', role: 'data', encryption: 'EncryptionState/encrypted' },
    ]);
    expect(answer.body).not.toHaveProperty('lastError');
  });

  it('a failed encryption names the operator’s next step from its reason', async () => {
    const answer = await handleVmDetail({ subscription: SUB_B, resourceGroup: 'rg-app', name: 'lnx-02' }, store());
    expect(answer.body.state).toBe('failed');
    expect((answer.body.lastError as { nextStep: string }).nextStep).toMatch(/^Grant the app's managed identity/);
  });

  it('ids differing only in case find the same VM', async () => {
    const answer = await handleVmDetail({ subscription: SUB_A.toUpperCase(), resourceGroup: 'RG-APP', name: 'WIN-01' }, store());
    expect(answer.status).toBe(200);
    expect(answer.body.state).toBe('encrypted');
  });

  it('404 for a VM the app has no run for', async () => {
    const answer = await handleVmDetail({ subscription: SUB_A, resourceGroup: 'rg-app', name: 'never-seen' }, store());
    expect(answer.status).toBe(404);
    expect(answer.body.error).toContain('never-seen');
  });

  it.each([
    { params: { subscription: 'abc', resourceGroup: 'rg', name: 'vm' }, field: 'subscription' },
    { params: { subscription: SUB_A, resourceGroup: 'rg.', name: 'vm' }, field: 'resourceGroup' },
    { params: { subscription: SUB_A, resourceGroup: 'rg', name: '..' }, field: 'name' },
    { params: { subscription: SUB_A, resourceGroup: 'rg', name: 'a%2Fb' }, field: 'name' },
    { params: { subscription: SUB_A, resourceGroup: 'rg', name: 'x'.repeat(65) }, field: 'name' },
    { params: { subscription: SUB_A, resourceGroup: 'rg', name: undefined }, field: 'name' },
  ])('400 naming $field for a bad segment', async ({ params, field }) => {
    const answer = await handleVmDetail(params, store());
    expect(answer.status).toBe(400);
    expect(answer.body.field).toBe(field);
  });
});

describe('GET /api/summary', () => {
  it('counts, failures in the last 24 h, the oldest run in flight and running sweeps', async () => {
    const answer = await handleSummary(store(), NOW);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      counts: { pending: 1, encrypted: 2, failed: 2, skipped: 1, total: 6 },
      failuresLast24h: 2,
      oldestInFlight: { vmId: WIN_RUN, orchestration: 'encryptVm', phase: 'deploying-extension', ageSeconds: 90 * 60 },
      sweeps: [{ instanceId: 'sweep-backfill', runtimeStatus: 'Running' }],
    });
  });

  it('an empty fleet', async () => {
    const answer = await handleSummary(store([]), NOW);
    expect(answer.body).toEqual({
      counts: { pending: 0, encrypted: 0, failed: 0, skipped: 0, total: 0 },
      byKind: { vm: 0, scaleSet: 0 },
      failuresLast24h: 0,
      sweeps: [],
    });
  });
});

describe('scale sets in the fleet (kind: scaleSet)', () => {
  const setId = (name: string) =>
    `/subscriptions/${SUB_A}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`;
  const vmssRun = (name: string, output: Record<string, unknown>, minutesAgo: number): RunRecord => ({
    instanceId: scaleSetInstanceId(setId(name)),
    name: 'encryptVmss',
    runtimeStatus: 'Completed',
    customStatus: { orchestration: 'encryptVmss', phase: 'done', scaleSetId: setId(name), vaultName: 'adeap-weu-0123456789abc' },
    output: { scaleSetId: setId(name), osType: 'Windows', ...output },
    createdTime: at(minutesAgo + 5),
    lastUpdatedTime: at(minutesAgo),
  });
  const ENCRYPTED = vmssRun(
    'ss-web',
    { outcome: 'encrypted', instances: { '0': 'encrypted', '1': 'encrypted' }, upgraded: ['0', '1'] },
    30,
  );
  const ACTION = vmssRun(
    'ss-api',
    {
      outcome: 'action-required',
      reason: '2 instance(s) not on the latest model (upgrade policy Manual) and ADE_HEAL_ACTION=notify-only upgrades nothing',
      operatorAction: 'bring the instances to the model (az vmss update-instances -g rg-app -n ss-api --instance-ids 0 1)',
      instances: { '0': 'stale', '1': 'stale' },
    },
    10,
  );
  const FLEX = vmssRun('ss-flex', { outcome: 'skipped', reason: 'Skipped: Handled per VM: …' }, 20);
  const withSets = () => store([...RECORDS, ENCRYPTED, ACTION, FLEX, SWEEP]);

  it('lists every scale set run beside the VMs, each row with its kind, instances and next step', async () => {
    const answer = await handleListVms(q({}), withSets());
    expect(answer.status).toBe(200);
    const rows = answer.body.vms as Array<Record<string, unknown>>;
    expect(rows.filter((r) => r.kind === 'vm')).toHaveLength(6);
    expect(rows.filter((r) => r.kind === 'scaleSet').map((r) => [r.name, r.state])).toEqual([
      ['ss-api', 'failed'],
      ['ss-flex', 'skipped'],
      ['ss-web', 'encrypted'],
    ]);
    expect(rows.find((r) => r.name === 'ss-web')).toMatchObject({
      vmId: setId('ss-web'),
      kind: 'scaleSet',
      os: 'Windows',
      vaultName: 'adeap-weu-0123456789abc',
      instances: { '0': 'encrypted', '1': 'encrypted' },
    });
    expect(rows.find((r) => r.name === 'ss-api')).toMatchObject({
      instances: { '0': 'stale', '1': 'stale' },
      lastError: {
        reason: expect.stringMatching(/ADE_HEAL_ACTION=notify-only/),
        nextStep: expect.stringMatching(/^bring the instances to the model \(az vmss update-instances/),
      },
    });
    expect(answer.body.counts).toMatchObject({ total: 9, encrypted: 3, failed: 3, skipped: 2 });
  });

  it.each([
    { kind: 'scaleSet', expected: ['ss-api', 'ss-flex', 'ss-web'] },
    { kind: 'vm', expected: ['lnx-01', 'win-01', 'win-02', 'lnx-02', 'lnx-03', 'win-03'] },
    { kind: 'SCALESET', expected: ['ss-api', 'ss-flex', 'ss-web'] },
  ])('?kind=$kind', async ({ kind, expected }) => {
    const answer = await handleListVms(q({ kind }), withSets());
    expect(names(answer.body)).toEqual(expected);
  });

  it('?kind= with anything else is a 400 naming it', async () => {
    const answer = await handleListVms(q({ kind: 'vmss' }), withSets());
    expect(answer).toMatchObject({ status: 400, body: { field: 'kind' } });
  });

  it('pages across VMs and scale sets with the continuation token', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const answer = await handleListVms(q({ top: '4', ...(token ? { continuationToken: token } : {}) }), withSets());
      seen.push(...names(answer.body));
      token = answer.body.continuationToken as string | undefined;
    } while (token);
    expect(seen).toHaveLength(9);
    expect(new Set(seen).size).toBe(9);
  });

  it('the summary counts rows by kind', async () => {
    const answer = await handleSummary(withSets(), NOW);
    expect(answer.body).toMatchObject({ counts: { total: 9 }, byKind: { vm: 6, scaleSet: 3 }, failuresLast24h: 3 });
  });

  it('a scale set run whose target is a VM id (or a VM run naming a scale set) is no row', async () => {
    const forged = { ...ENCRYPTED, customStatus: { scaleSetId: WIN_ENC }, output: { scaleSetId: WIN_ENC, outcome: 'encrypted' } };
    const answer = await handleListVms(q({ kind: 'scaleSet' }), store([forged]));
    expect(names(answer.body)).toEqual([]);
  });
});

describe('the instance query URL', () => {
  it.each([
    {
      binding: { rpcBaseUrl: 'http://127.0.0.1:17071/durabletask/' },
      url: 'http://127.0.0.1:17071/durabletask/instances/?instanceIdPrefix=encrypt-&showInput=false&top=1000',
    },
    {
      binding: { baseUrl: 'https://app.azurewebsites.net/runtime/webhooks/durabletask', requiredQueryStringParameters: 'code=k' },
      url: 'https://app.azurewebsites.net/runtime/webhooks/durabletask/instances/?code=k&instanceIdPrefix=encrypt-&showInput=false&top=1000',
    },
  ])('$url', ({ binding, url }) => {
    expect(instancesUrl(binding, 'encrypt-')).toBe(url);
  });
});

describe('durableRunStore', () => {
  const row = (id: string) => ({
    instanceId: id,
    name: 'encryptVm',
    runtimeStatus: 'Completed',
    customStatus: null,
    output: null,
    createdTime: 't',
    lastUpdatedTime: 't',
  });

  it('follows the continuation token through every page of the prefix query, input left out', async () => {
    const requests: Array<{ url: string; token?: string }> = [];
    const pages: Record<string, { rows: unknown[]; next?: string }> = {
      '': { rows: [row('encrypt-1'), row('encrypt-2')], next: 'page-2' },
      'page-2': { rows: [row('encrypt-3'), { not: 'a run' }], next: 'page-3' },
      'page-3': { rows: [] },
    };
    const fakeFetch = (async (url: string, init: { headers: Record<string, string> }) => {
      const token = init.headers['x-ms-continuation-token'];
      requests.push({ url, ...(token ? { token } : {}) });
      const page = pages[token ?? '']!;
      return new Response(JSON.stringify(page.rows), { status: 200, headers: page.next ? { 'x-ms-continuation-token': page.next } : {} });
    }) as unknown as typeof fetch;
    const client = { clientData: { rpcBaseUrl: 'http://127.0.0.1:17071/durabletask/' } } as never;
    const records = await durableRunStore(client, fakeFetch).listByPrefix('encrypt-');
    expect(records.map((r) => r.instanceId)).toEqual(['encrypt-1', 'encrypt-2', 'encrypt-3']);
    expect(requests.map((r) => r.token)).toEqual([undefined, 'page-2', 'page-3']);
    expect(new Set(requests.map((r) => r.url))).toEqual(
      new Set([instancesUrl({ rpcBaseUrl: 'http://127.0.0.1:17071/durabletask/' }, 'encrypt-')]),
    );
  });

  it('fails loudly when the query fails, and reads an unknown instance as undefined', async () => {
    const failing = (async () => new Response('boom', { status: 500 })) as unknown as typeof fetch;
    const client = {
      clientData: { rpcBaseUrl: 'http://127.0.0.1:17071/durabletask/' },
      getStatus: () => Promise.reject(new Error('The operation failed with an unexpected status code: 404')),
    } as never;
    await expect(durableRunStore(client, failing).listByPrefix('encrypt-')).rejects.toThrow(/answered 500/);
    await expect(durableRunStore(client, failing).get('encrypt-x')).resolves.toBeUndefined();
  });
});
