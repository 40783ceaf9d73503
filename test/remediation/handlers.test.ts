import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCALE_SET_ACTIVITY } from '../../orchestrations/scale-set-contracts';
import { EVENT_WIRING_ACTIVITY } from '../../orchestrations/event-wiring-contracts';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../core/config';
import {
  handleAlert,
  handleArmDrift,
  handleHeal,
  handlePolicyStates,
  handleSweep,
  type HandlerDeps,
} from '../../functions/lib/remediation';
import type { StarterClient } from '../../functions/lib/start';
import { ACTIVITY, EAH_ACTIVITY, REMEDIATION_ACTIVITY } from '../../orchestrations/contracts';
import { basePolicy, fixture, SUB } from './helpers';

/** Durable client stand-in: instances stay Running once started (so duplicates see them active). */
function fakeClient() {
  const instances = new Map<string, { name: string; input: unknown }>();
  const client = {
    getStatus: async (instanceId: string) => {
      if (!instances.has(instanceId)) throw new Error(`No instance with ID '${instanceId}' found.`);
      return { runtimeStatus: 'Running' };
    },
    startNew: async (name: string, options?: { instanceId?: string; input?: unknown }) => {
      if (instances.has(options!.instanceId!)) throw new Error('already exists');
      instances.set(options!.instanceId!, { name, input: options?.input });
      return options!.instanceId!;
    },
  } as unknown as StarterClient;
  return { client, instances };
}

function deps() {
  const { client, instances } = fakeClient();
  const logs: string[] = [];
  const d: HandlerDeps = {
    client,
    policy: basePolicy(),
    settings: loadConfig({ ADE_SUBSCRIPTIONS: SUB }).remediation,
    log: (level, message) => logs.push(`${level} ${message}`),
    vmExists: async () => true,
  };
  return { d, instances, logs };
}

const request = (body: unknown, query: Record<string, string> = {}) => ({
  text: async () => (typeof body === 'string' ? body : JSON.stringify(body)),
  query: new URLSearchParams(query),
});

const vmId = (name: string) => `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/${name}`;
function policyEvent(name: string, complianceState = 'NonCompliant', timestamp = '2026-11-20T10:00:00Z') {
  return {
    id: `e-${name}-${timestamp}`,
    topic: `/subscriptions/${SUB}`,
    subject: vmId(name),
    eventType: 'Microsoft.PolicyInsights.PolicyStateChanged',
    eventTime: timestamp,
    dataVersion: '1',
    metadataVersion: '1',
    data: {
      timestamp,
      policyAssignmentId: `/subscriptions/${SUB}/providers/microsoft.authorization/policyassignments/ade`,
      policyDefinitionId: '/providers/microsoft.authorization/policydefinitions/3dc5edcd-002d-444c-b216-e123bbfa37c0',
      complianceState,
      subscriptionId: SUB,
    },
  };
}

describe('policyStates', () => {
  it('the same NonCompliant event delivered three times and a second alert for the VM → one remediation', async () => {
    const { d, instances } = deps();
    for (let i = 0; i < 3; i++) await handlePolicyStates(policyEvent('vm1'), d);
    const alert = fixture<{ data: { essentials: { alertTargetIDs: string[] } } }>('alert-mixed-targets.json');
    alert.data.essentials.alertTargetIDs = [vmId('vm1').toLowerCase()];
    const answer = await handleAlert(request(alert), d);
    expect(answer.status).toBe(202);
    expect(instances.size).toBe(1);
    const [[instanceId, started]] = [...instances.entries()];
    expect(instanceId).toMatch(/^remediate-/);
    expect(started.name).toBe('remediateVm');
    expect((answer.body.remediations as Array<{ started: boolean }>)[0].started).toBe(false);
  });

  it.each([
    [
      'data without complianceState',
      { ...policyEvent('vm1'), data: { ...policyEvent('vm1').data, complianceState: undefined } },
      'complianceState',
    ],
    ['data.timestamp not a date', { ...policyEvent('vm1'), data: { ...policyEvent('vm1').data, timestamp: 'yesterday' } }, 'timestamp'],
    ['not JSON', '{oops', 'not valid JSON'],
    ['no subject', { ...policyEvent('vm1'), subject: undefined }, 'subject'],
  ])('malformed: %s → logged naming the problem, nothing started', async (_name, body, field) => {
    const { d, instances, logs } = deps();
    const result = await handlePolicyStates(body, d);
    expect(instances.size).toBe(0);
    expect(result.malformed.join(' ')).toContain(field);
    expect(logs.some((l) => l.startsWith('warn') && l.includes(field))).toBe(true);
  });

  it('Compliant and out-of-scope states start nothing', async () => {
    const { d, instances } = deps();
    await handlePolicyStates([policyEvent('vm1', 'Compliant')], d);
    const other = policyEvent('vm2');
    other.subject = other.subject.replace(SUB, '99999999-1bf0-4dda-aec3-111122223333');
    const result = await handlePolicyStates([other], d);
    expect(instances.size).toBe(0);
    expect(result.ignored[0].reason).toContain('ADE_SUBSCRIPTIONS');
  });
});

describe('alerts', () => {
  it.each([
    ['empty body', '', 'empty'],
    ['not JSON', 'nope', 'not valid JSON'],
    ['not the common schema', { schemaId: 'Microsoft.Insights/activityLogs', data: {} }, 'alert.schemaId'],
    [
      'no alertTargetIDs',
      (() => {
        const a = fixture<{ data: { essentials: Record<string, unknown> } }>('alert-mixed-targets.json');
        delete a.data.essentials.alertTargetIDs;
        return a;
      })(),
      'alertTargetIDs',
    ],
    [
      'bad severity',
      (() => {
        const a = fixture<{ data: { essentials: Record<string, unknown> } }>('alert-mixed-targets.json');
        a.data.essentials.severity = 'High';
        return a;
      })(),
      'severity',
    ],
  ])('malformed: %s → 400 naming the problem, nothing started', async (_name, body, text) => {
    const { d, instances } = deps();
    const answer = await handleAlert(request(body), d);
    expect(answer.status).toBe(400);
    expect(String(answer.body.error)).toContain(text);
    expect(instances.size).toBe(0);
  });

  it('VM targets start remediations; others are answered with reasons', async () => {
    const { d, instances } = deps();
    const answer = await handleAlert(request(fixture('alert-mixed-targets.json')), d);
    expect(answer.status).toBe(202);
    expect(instances.size).toBe(2);
    expect((answer.body.ignored as unknown[]).length).toBe(5);
  });

  it('only non-VM targets → 422 with the reasons', async () => {
    const { d, instances } = deps();
    const alert = fixture<{ data: { essentials: { alertTargetIDs: string[] } } }>('alert-mixed-targets.json');
    alert.data.essentials.alertTargetIDs = alert.data.essentials.alertTargetIDs.filter(
      (t) => !/virtualmachines\/[^/]+$/i.test(t) && !/extensions/i.test(t),
    );
    const answer = await handleAlert(request(alert), d);
    expect(answer.status).toBe(422);
    expect(JSON.stringify(answer.body.ignored)).toContain('managed disk');
    expect(instances.size).toBe(0);
  });
});

describe('armDrift', () => {
  it('extension delete and vault write → one remediation per VM and per vault', async () => {
    const { d, instances } = deps();
    const body = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'remediation', 'arm-drift-events.json'), 'utf8')) as unknown[];
    const result = await handleArmDrift(body, d);
    expect(result.started.map((s) => s.instanceId.split('-').slice(0, 2).join('-'))).toEqual([
      'remediate-0b1f6471',
      'remediate-0b1f6471',
      'remediate-vault',
    ]);
    expect(instances.size).toBe(3);
    const vaultStart = [...instances.values()].find((i) => (i.input as { target: { kind: string } }).target.kind === 'vault');
    expect(vaultStart).toBeDefined();
  });
});

describe('heal and sweep starters', () => {
  it.each([
    [{}, 'vmId is required'],
    [{ vmId: '/subscriptions/x' }, 'vmId'],
    [{ vmId: vmId('a').replace(SUB, '99999999-1bf0-4dda-aec3-111122223333') }, 'ADE_SUBSCRIPTIONS'],
    ['[', 'not valid JSON'],
  ])('heal %j → 400', async (body, text) => {
    const { d, instances } = deps();
    const answer = await handleHeal(request(body), d);
    expect(answer.status).toBe(400);
    expect(String(answer.body.error)).toContain(text);
    expect(instances.size).toBe(0);
  });

  it('heal starts one remediation per VM', async () => {
    const { d, instances } = deps();
    expect((await handleHeal(request({ vmId: vmId('a') }), d)).status).toBe(202);
    expect((await handleHeal(request({ vmId: vmId('a').toLowerCase() }), d)).status).toBe(202);
    expect(instances.size).toBe(1);
  });

  it('sweep: dryRun from the query, one sweep at a time, bad parameters → 400', async () => {
    const { d, instances } = deps();
    const first = await handleSweep(request('', { dryRun: 'true' }), d);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ dryRun: true, kind: 'backfill' });
    expect(instances.get('sweep-backfill')!.input as { concurrency: number; dryRun: boolean }).toMatchObject({
      concurrency: 20,
      dryRun: true,
    });
    expect((await handleSweep(request({ dryRun: false }), d)).status).toBe(409);
    expect((await handleSweep(request('', { kind: 'bek-health' }), d)).status).toBe(202);
    expect((await handleSweep(request('', { dryRun: 'maybe' }), d)).status).toBe(400);
    expect((await handleSweep(request({ kind: 'everything' }), d)).status).toBe(400);
  });
});

describe('handler cores are free of the Functions runtime', () => {
  it.each(['remediation', 'encrypt-vm-http', 'vm-written', 'secret-events', 'start', 'http-body'])(
    'importing functions/lib/%s registers no function, orchestrator, activity or entity',
    async (name) => {
      vi.resetModules();
      const df = await import('durable-functions');
      const registrations = [
        vi.spyOn(df.app, 'orchestration'),
        vi.spyOn(df.app, 'activity'),
        vi.spyOn(df.app, 'entity'),
        vi.spyOn(df.app.client, 'http'),
        vi.spyOn(df.app.client, 'eventGrid'),
        vi.spyOn(df.app.client, 'timer'),
      ];
      await import(`../../functions/lib/${name}`);
      for (const spy of registrations) expect(spy).not.toHaveBeenCalled();
      vi.restoreAllMocks();
    },
  );

  it('the registration module does register (so the spies above can see a registration)', async () => {
    vi.resetModules();
    const df = await import('durable-functions');
    const orchestration = vi.spyOn(df.app, 'orchestration').mockImplementation(() => undefined as never);
    const activity = vi.spyOn(df.app, 'activity').mockImplementation(() => undefined as never);
    const entity = vi.spyOn(df.app, 'entity').mockImplementation(() => undefined as never);
    const previous = process.env.ADE_SUBSCRIPTIONS;
    process.env.ADE_SUBSCRIPTIONS = SUB;
    try {
      await import('../../functions/durable');
    } finally {
      if (previous === undefined) delete process.env.ADE_SUBSCRIPTIONS;
      else process.env.ADE_SUBSCRIPTIONS = previous;
    }
    expect(orchestration.mock.calls.map((c) => c[0]).sort()).toEqual([
      'encryptAtHost',
      'encryptVm',
      'encryptVmss',
      'remediateVm',
      'restoreBek',
      'sweep',
      'wireSubscriptionEvents',
    ]);
    expect(activity.mock.calls.length).toBe(
      Object.keys(ACTIVITY).length +
        Object.keys(REMEDIATION_ACTIVITY).length +
        Object.keys(EAH_ACTIVITY).length +
        Object.keys(SCALE_SET_ACTIVITY).length +
        Object.keys(EVENT_WIRING_ACTIVITY).length,
    );
    expect(entity).toHaveBeenCalledTimes(2);
    vi.restoreAllMocks();
  });
});
