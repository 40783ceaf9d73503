/**
 * The backfill sweep's listing through Azure Resource Graph, against the simulator over real HTTPS: a 10,000-VM fleet over
 * 20 subscriptions, listed with no ARM read, whose dry-run report matches the fleet as Resource Manager lists it; Resource
 * Graph's authorization (rows only from what the caller may read), paging, throttling headers and query errors.
 */
import { randomUUID } from 'node:crypto';
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import { EnvironmentCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzurePorts } from '../../azure/clients';
import type { AzurePorts } from '../../azure/ports';
import { ResourceGraphAdapter, quotaResetsAfterMs } from '../../azure/resource-graph';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { addToReport, emptyReport, type SweepReport } from '../../core/remediation/sweep';
import { REMEDIATION_ACTIVITY } from '../../orchestrations/contracts';
import { createRemediationActivities } from '../../orchestrations/remediation-activities';
import { startSimHarness, type SimHarness } from './sim-harness';

const SUBSCRIPTIONS = 20;
const VMS_PER_SUBSCRIPTION = 500;
/** Per subscription: how many VMs of each kind (sums to VMS_PER_SUBSCRIPTION). */
const MIX = [
  { count: 250, body: { osType: 'Windows' }, expect: 'encrypt' },
  { count: 150, body: { osType: 'Linux' }, expect: 'encrypt' },
  { count: 40, body: { osType: 'Windows', tags: { 'ade-autopilot': 'skip' } }, expect: 'skip/exclusion-tag' },
  { count: 30, body: { osType: 'Windows', powerState: 'deallocated' }, expect: 'skip/vm-not-running' },
  { count: 30, body: { osType: 'Windows', vmSize: 'Standard_A2_v2' }, expect: 'unsupported/a-series' },
] as const;

let h: SimHarness;
let ports: AzurePorts;
const subscriptions: string[] = [];
let hidden: string;

function policy() {
  return toEncryptionPolicy(
    loadConfig({ ADE_SUBSCRIPTIONS: subscriptions.join(','), ADE_ENCRYPTION_MODE: 'single-pass', ADE_DRY_RUN: 'true' }),
  );
}

beforeAll(async () => {
  h = await startSimHarness();
  ports = createAzurePorts({ auth: { mode: 'environment' } }, { pollIntervalMs: 100 });
  const tenantId = h.sim.seed.tenantId;
  for (let s = 0; s < SUBSCRIPTIONS + 1; s++) {
    const subscriptionId = randomUUID();
    await h.control('POST', '/_sim/arm/subscriptions', { subscriptionId, tenantId });
    await h.control('POST', '/_sim/arm/resourcegroups', { subscriptionId, name: 'rg-fleet', location: 'westeurope' });
    if (s < SUBSCRIPTIONS) {
      subscriptions.push(subscriptionId);
      await h.control('POST', '/_sim/arm/roleassignments', {
        principalId: h.sim.seed.clientObjectId,
        roleName: 'Reader',
        scope: `/subscriptions/${subscriptionId}`,
      });
      for (const kind of MIX) {
        await h.control('POST', '/_sim/arm/vms', {
          subscriptionId,
          resourceGroup: 'rg-fleet',
          location: 'westeurope',
          count: kind.count,
          namePrefix: 'fleet',
          ...kind.body,
        });
      }
    } else {
      // A subscription the app has no role on: Resource Graph must not show its VMs.
      hidden = subscriptionId;
      await h.control('POST', '/_sim/arm/vms', { subscriptionId, resourceGroup: 'rg-fleet', location: 'westeurope', count: 50 });
    }
  }
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

describe('Resource Graph sweep listing', () => {
  it('lists 10,000 VMs over 20 subscriptions with no ARM read; the dry-run report matches the fleet', async () => {
    const activities = createRemediationActivities({
      ...ports,
      identity: async () => ({ tenantId: h.sim.seed.tenantId, objectId: h.sim.seed.clientObjectId }),
      log: () => undefined,
    });
    const before = await h.control<{ detailed: Record<string, Record<string, Record<string, number>>> }>('GET', '/_sim/requests/counts');
    let report: SweepReport = emptyReport();
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await activities[REMEDIATION_ACTIVITY.listSweepPage]({
        subscriptionId: subscriptions[0]!,
        subscriptionIds: subscriptions,
        policy: policy(),
        ...(token ? { continuationToken: token } : {}),
      });
      if (!page.ok) throw new Error(page.error.message);
      expect(page.value.allSubscriptions).toBe(true);
      report = addToReport(report, page.value.rows);
      token = page.value.continuationToken;
      pages++;
    } while (token);
    const after = await h.control<{ detailed: Record<string, Record<string, Record<string, number>>> }>('GET', '/_sim/requests/counts');
    const me = h.sim.seed.clientObjectId;
    const delta = (op: string) => (after.detailed.arm?.[op]?.[me] ?? 0) - (before.detailed.arm?.[op]?.[me] ?? 0);
    const armOps = Object.keys(after.detailed.arm ?? {}).filter((op) => !op.toLowerCase().startsWith('microsoft.resourcegraph/'));
    const armCalls = armOps.reduce((sum, op) => sum + delta(op), 0);
    const graphQueries = delta('Microsoft.ResourceGraph/resources/action');

    const expected: Record<string, number> = {};
    for (const kind of MIX) expected[kind.expect] = (expected[kind.expect] ?? 0) + kind.count * SUBSCRIPTIONS;
    expect(report.total).toBe(SUBSCRIPTIONS * VMS_PER_SUBSCRIPTION);
    expect(report.byReason).toEqual(expected);
    expect(report.wouldChange.length + report.wouldChangeNotListed).toBe(expected.encrypt);
    expect(report.wouldChange.some((vm) => vm.vmId.includes(hidden))).toBe(false);
    const needWork = expected.encrypt!;
    console.log(
      `Resource Graph dry-run sweep: ${report.total} VMs, ${SUBSCRIPTIONS} subscriptions, ${pages} pages, ${graphQueries} Resource ` +
        `Graph queries, ${armCalls} ARM calls (${(armCalls / needWork).toFixed(2)} per VM that needs work, ${needWork} such VMs)`,
    );
    expect(armCalls).toBe(0);
    expect(graphQueries).toBe(pages);

    // The same fleet as Resource Manager lists it (the sweep's former path, per subscription): the same report, except that a
    // list has no power state, so deallocated VMs looked eligible there (Resource Graph carries properties.extended.instanceView).
    let armReport: SweepReport = emptyReport();
    for (const subscriptionId of subscriptions) {
      let next: string | undefined;
      do {
        const page = await activities[REMEDIATION_ACTIVITY.listSweepPage]({
          subscriptionId,
          policy: policy(),
          ...(next ? { continuationToken: next } : {}),
        });
        if (!page.ok) throw new Error(page.error.message);
        armReport = addToReport(armReport, page.value.rows);
        next = page.value.continuationToken;
      } while (next);
    }
    const { 'skip/vm-not-running': notRunning, ...rest } = report.byReason;
    expect(armReport.byReason).toEqual({ ...rest, encrypt: rest.encrypt! + notRunning! });
  }, 120_000);

  it('pages with $skipToken, shows only what the caller may read, and refuses what it does not understand', async () => {
    const client = new ResourceGraphClient(new EnvironmentCredential());
    const query = "Resources | where type =~ 'microsoft.compute/virtualmachines' | project id, subscriptionId | order by id asc";
    const first = await client.resources({ subscriptions: [subscriptions[0]!, hidden], query, options: { top: 300 } });
    expect(first.totalRecords).toBe(VMS_PER_SUBSCRIPTION); // the hidden subscription's 50 VMs are not visible
    expect(first.count).toBe(300);
    expect(first.skipToken).toBeTruthy();
    const second = await client.resources({
      subscriptions: [subscriptions[0]!, hidden],
      query,
      options: { top: 300, skipToken: first.skipToken },
    });
    expect(second.count).toBe(200);
    expect(second.skipToken).toBeUndefined();
    const ids = [...(first.data as Array<{ id: string }>), ...(second.data as Array<{ id: string }>)].map((r) => r.id);
    expect(new Set(ids).size).toBe(VMS_PER_SUBSCRIPTION);

    await expect(client.resources({ subscriptions, query: 'Resources | summarize count() by type' })).rejects.toMatchObject({
      statusCode: 400,
      code: 'BadRequest',
    });
    await expect(client.resources({ subscriptions, query, options: { top: 1001 } })).rejects.toMatchObject({ statusCode: 400 });
  }, 60_000);

  it('reports its quota in x-ms-user-quota-* headers; the adapter waits for the reset instead of failing', async () => {
    expect(quotaResetsAfterMs('00:00:05')).toBe(5000);
    expect(quotaResetsAfterMs('garbage')).toBeUndefined();
    const client = new ResourceGraphClient(new EnvironmentCredential());
    const seen: Array<{ status: number; remaining?: string; resetsAfter?: string }> = [];
    const query = "Resources | where type =~ 'microsoft.compute/virtualmachines' | project id";
    // Until a query is refused (15 per 5 s; a slow machine may see a window reset first).
    for (let i = 0; i < 60 && !seen.some((x) => x.status === 429); i++) {
      await client
        .resources(
          { subscriptions: [subscriptions[1]!], query, options: { top: 1 } },
          {
            onResponse: (raw) =>
              seen.push({
                status: raw.status,
                remaining: raw.headers.get('x-ms-user-quota-remaining') ?? undefined,
                resetsAfter: raw.headers.get('x-ms-user-quota-resets-after') ?? undefined,
              }),
          },
        )
        .catch(() => undefined);
    }
    expect(seen.some((s) => s.status === 429 && s.remaining === '0')).toBe(true);
    expect(seen.every((s) => s.resetsAfter !== undefined && /^\d{2}:\d{2}:\d{2}$/.test(s.resetsAfter))).toBe(true);
    // The quota is spent now: the adapter waits for the reset and then gets its page.
    const adapter = new ResourceGraphAdapter(new EnvironmentCredential());
    const page = await adapter.vmPage([subscriptions[1]!]);
    expect(page.vms).toHaveLength(VMS_PER_SUBSCRIPTION);
  }, 60_000);
});
