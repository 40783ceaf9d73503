/**
 * One run per VM across every starter: the VM's creation event (vmWritten), POST /api/vms/encrypt, a backfill sweep and a
 * remediation (POST /api/vms/heal, whose encrypt action is a sub-orchestration) all start the same VM at once. They share
 * the VM's deterministic `encrypt-…` instance id and host.json's `NonRunningStates` rule, so Azure sees one ADE
 * extension deployment and the directory one password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orchestrationInstanceId, remediationInstanceId, SWEEP_INSTANCE_ID } from '../../core/names';
import { HUB_KEYS, startPipeline, type Pipeline } from './harness';
import { appRequests, armWrites, expectEncrypted } from './checks';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({ mode: 'aad', kek: false });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

const post = (path: string, body?: unknown) =>
  p.host.fetch(`${path}${path.includes('?') ? '&' : '?'}code=${HUB_KEYS.function}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe('one run per VM across the event, HTTP, sweep and remediation starters', () => {
  it('four starters at once: one extension deployment sequence, one password', async () => {
    const since = (await p.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;
    // createVm returns once ARM reports the VM created: its ResourceWriteSuccess event is on its way to vmWritten.
    const vmId = await p.createVm('one-run', { os: 'Linux' });
    const answers = await Promise.all([
      post('/api/vms/encrypt', { vmId }),
      post('/api/vms/heal', { vmId }),
      post('/api/sweep?kind=backfill'),
      post('/api/vms/heal', { vmId }),
    ]);
    expect(answers.map((a) => a.status).filter((s) => s !== 202)).toEqual([]);

    await expectEncrypted(p, { vmId, os: 'Linux', mode: 'aad', kek: false }, 120_000);
    const sweep = await p.waitForInstance(SWEEP_INSTANCE_ID.backfill, 60_000);
    expect(sweep.runtimeStatus).toBe('Completed');
    const heal = await p.waitForInstance(remediationInstanceId(vmId), 60_000);
    expect(heal.runtimeStatus).toBe('Completed');
    // The remediation either found the VM encrypted, or found the encryption running and left it to that run.
    expect(['nothing', 'encrypt']).toContain(heal.output.action);
    expect(['skipped', 'succeeded']).toContain(heal.output.result);

    const encryptRuns = (await p.listInstances()).filter((i) => i.name === 'encryptVm');
    expect(encryptRuns.map((i) => i.instanceId)).toEqual([orchestrationInstanceId(vmId)]);

    const requests = await appRequests(p, since);
    const extensionPuts = armWrites(requests).filter(
      (w) => w.method === 'PUT' && /\/virtualMachines\/one-run\/extensions\/[^/]+$/i.test(w.path),
    );
    expect(extensionPuts).toHaveLength(1);
    const passwords = requests.filter(
      (r) => r.service === 'graph' && r.method === 'POST' && /\/addPassword$/i.test(r.path) && r.status < 400,
    );
    expect(passwords).toHaveLength(1);
  }, 240_000);
});

describe('a VM that was deallocated', () => {
  it('is encrypted when it starts: the start action event reaches vmWritten', async () => {
    // Seeded deallocated (no create event), as a VM that was off when the app was deployed.
    const seeded = await p.control<{ ids: string[] }>('POST', '/_sim/arm/vms', {
      subscriptionId: p.subscriptionId,
      resourceGroup: 'rg-app',
      name: 'was-off',
      osType: 'Linux',
      dataDisks: 1,
      powerState: 'deallocated',
    });
    const vmId = seeded.ids[0]!;
    expect(await p.getInstance(orchestrationInstanceId(vmId))).toBeUndefined();
    await p.compute.virtualMachines.beginStartAndWait('rg-app', 'was-off');
    await expectEncrypted(p, { vmId, os: 'Linux', mode: 'aad', kek: false }, 120_000);
  }, 180_000);
});
