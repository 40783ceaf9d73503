import type { OrchestrationContext } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import type { OutcomeEvent } from '../../core/remediation/outcomes';
import { normaliseResourceId } from '../../core/resource-ids';
import type { EncryptVmInput, EncryptVmOutput } from '../../orchestrations/contracts';
import { remediateVmOrchestrator, type RemediateVmInput, type RemediateVmOutput } from '../../orchestrations/remediateVm';
import {
  createRemediationActivities,
  type OrchestrationControl,
  type OrchestrationStart,
} from '../../orchestrations/remediation-activities';
import { restoreBekOrchestrator, type HealSettings, type RestoreBekInput, type RestoreBekOutput } from '../../orchestrations/restoreBek';
import { sweepOrchestrator, type SweepInput, type SweepOutput } from '../../orchestrations/sweep';
import { parseMaintenanceWindow } from '../../core/remediation/maintenance-window';
import type { VmSnapshot } from '../../core/vm';
import { Driver } from './driver';
import { FakeAzure } from './fake-azure';
import { basePolicy, loadVm } from './helpers';
import type { EncryptionPolicy } from '../../core/policy';

const policy = basePolicy();
const win = loadVm('win-sp-encrypted');
const lnx = loadVm('lnx-sp-encrypted');
const winSecret = win.instanceView!.disks![0].encryptionSettings![0].diskEncryptionKey!.secretUrl;
const winKek = win.instanceView!.disks![0].encryptionSettings![0].keyEncryptionKey!.keyUrl;
const lnxSecret = lnx.instanceView!.disks![0].encryptionSettings![0].diskEncryptionKey!.secretUrl;
const vaultIdOf = (vm: VmSnapshot) => vm.instanceView!.disks![0].encryptionSettings![0].diskEncryptionKey!.sourceVault.id!;

function world(appPolicy?: EncryptionPolicy) {
  const azure = new FakeAzure();
  azure.addVm(win);
  azure.addVm(lnx);
  azure.addVault({ id: vaultIdOf(win), name: 'adeap-weu-0123456789abcd' });
  azure.addVault({ id: vaultIdOf(lnx), name: 'adeap-neu-0123456789abcd', location: 'northeurope' });
  azure.addSecret(winSecret);
  azure.addKey(winKek);
  azure.addSecret(lnxSecret);
  const events: OutcomeEvent[] = [];
  const logs: string[] = [];
  const encryptCalls: EncryptVmInput[] = [];
  const control = new FakeControl();
  const activities = createRemediationActivities({
    compute: azure.compute,
    vaults: azure.vaultManagement,
    keyVault: azure.keyVault,
    identity: async () => ({ tenantId: 'tenant-1', objectId: 'automation' }),
    publisher: { publish: async (e) => void events.push(...e) },
    orchestrations: control,
    log: (level, message, fields) => logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`),
    ...(appPolicy ? { policy: appPolicy } : {}),
  });
  const driver = new Driver({
    orchestrators: {
      restoreBek: restoreBekOrchestrator as never,
      remediateVm: remediateVmOrchestrator as never,
      sweep: sweepOrchestrator as never,
      // Stand-in for the pipeline's encryptVm: records the call, reports success.
      encryptVm: function* (context: OrchestrationContext) {
        const input = context.df.getInput() as EncryptVmInput;
        encryptCalls.push(input);
        yield* [];
        return { vmId: input.vmId, outcome: 'encrypted' } satisfies EncryptVmOutput;
      } as never,
    },
    activities: activities as unknown as Record<string, (input: unknown) => Promise<unknown>>,
  });
  /** Nothing secret anywhere: history, statuses, events, logs. */
  const assertNoSecrets = () => {
    const haystack = JSON.stringify([driver.history, driver.statuses, events, logs]);
    for (const value of azure.secretValues) expect(haystack.includes(value)).toBe(false);
    expect(azure.secretValues.length).toBeGreaterThan(0);
  };
  return { azure, events, logs, driver, control, encryptCalls, assertNoSecrets };
}

/** Durable client stand-in: instances finish after `runPolls` status checks; tracks concurrency. */
class FakeControl implements OrchestrationControl {
  readonly instances = new Map<string, { start: OrchestrationStart; polls: number }>();
  active = 0;
  peak = 0;
  runPolls = 2;
  async startIfIdle(start: OrchestrationStart) {
    const known = this.instances.get(start.instanceId);
    if (known && known.polls < this.runPolls) return { instanceId: start.instanceId, started: false, runtimeStatus: 'Running' };
    this.instances.set(start.instanceId, { start, polls: 0 });
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    return { instanceId: start.instanceId, started: true };
  }
  async status(instanceId: string) {
    const known = this.instances.get(instanceId);
    if (!known) return { instanceId, runtimeStatus: 'Unknown' };
    if (known.polls >= this.runPolls) return { instanceId, runtimeStatus: 'Completed', output: { outcome: 'encrypted' } };
    known.polls++;
    if (known.polls >= this.runPolls) {
      this.active--;
      return { instanceId, runtimeStatus: 'Completed', output: { outcome: 'encrypted' } };
    }
    return { instanceId, runtimeStatus: 'Running' };
  }
}

const restart: HealSettings = { action: 'restart', verifyIntervalSeconds: 30, verifyPolls: 3 };
const restoreInput = (vm: VmSnapshot, heal: HealSettings = restart): RestoreBekInput => ({ vmId: vm.id, policy, heal });

describe('restoreBek', () => {
  it.each([
    ['Windows', win],
    ['Linux', lnx],
  ])('%s: BEK files deleted → deallocate + start → verified, BekRestored published', async (_os, vm) => {
    const w = world();
    w.azure.loseBek(vm.id);
    const out = (await w.driver.run('restoreBek', restoreInput(vm))) as RestoreBekOutput;
    expect(out.outcome).toBe('restored');
    expect(w.azure.calls.filter((c) => c.op === 'deallocate' || c.op === 'start').map((c) => c.op)).toEqual(['deallocate', 'start']);
    expect(w.events.map((e) => e.eventType)).toEqual(['AdeAutopilot.BekRestored']);
    expect(w.events[0].subject).toBe(vm.id);
    w.assertNoSecrets();
  });

  it('secret soft-deleted (and its KEK) → KEK recovered, secret recovered, then re-provisioned', async () => {
    const w = world();
    w.azure.loseBek(win.id);
    w.azure.secret(winSecret).deleted = true;
    w.azure.key(winKek).deleted = true;
    const out = (await w.driver.run('restoreBek', restoreInput(win))) as RestoreBekOutput;
    expect(out.outcome).toBe('restored');
    expect(w.azure.calls.map((c) => c.op).filter((op) => ['recoverKey', 'recoverSecret', 'deallocate', 'start'].includes(op))).toEqual([
      'recoverKey',
      'recoverSecret',
      'deallocate',
      'start',
    ]);
    expect(w.azure.secret(winSecret).deleted).toBe(false);
    w.assertNoSecrets();
  });

  it('secret purged → Unrecoverable naming the secret, the vault and the operator action; VM untouched', async () => {
    const w = world();
    w.azure.loseBek(win.id);
    w.azure.secret(winSecret).purged = true;
    const out = (await w.driver.run('restoreBek', restoreInput(win))) as RestoreBekOutput;
    expect(out.outcome).toBe('unrecoverable');
    expect(w.azure.count('deallocate') + w.azure.count('start') + w.azure.count('recoverSecret')).toBe(0);
    expect(w.events).toHaveLength(1);
    const [event] = w.events;
    expect(event.eventType).toBe('AdeAutopilot.Unrecoverable');
    expect(event.data.secrets).toEqual([
      { secretName: '7d1b2c3e-4f50-4617-8a9b-0c1d2e3f4a5b', vaultName: 'adeap-weu-0123456789abcd', secretUrl: winSecret },
    ]);
    expect(event.data.operatorAction).toMatch(/Azure Backup/);
    w.assertNoSecrets();
  });

  it('vault disk-encryption flag off → repaired before the restart', async () => {
    const w = world();
    w.azure.loseBek(win.id);
    w.azure.vaults.get(normaliseResourceId(vaultIdOf(win)))!.enabledForDiskEncryption = false;
    const out = (await w.driver.run('restoreBek', restoreInput(win))) as RestoreBekOutput;
    expect(out.outcome).toBe('restored');
    expect(w.azure.calls.map((c) => c.op).filter((op) => ['ensureVault', 'deallocate', 'start'].includes(op))).toEqual([
      'ensureVault',
      'deallocate',
      'start',
    ]);
  });

  it('notify-only → ActionRequired, no restart', async () => {
    const w = world();
    w.azure.loseBek(lnx.id);
    const out = (await w.driver.run('restoreBek', restoreInput(lnx, { action: 'notify-only' }))) as RestoreBekOutput;
    expect(out.outcome).toBe('action-required');
    expect(w.azure.count('deallocate') + w.azure.count('start')).toBe(0);
    expect(w.events.map((e) => e.eventType)).toEqual(['AdeAutopilot.ActionRequired']);
  });

  it('outcome event ids: the same run replayed repeats its id, a later run on the same instance gets a new one', async () => {
    const runAt = async (at: Date) => {
      const w = world();
      w.azure.loseBek(lnx.id);
      w.driver.now = at;
      await w.driver.run('restoreBek', restoreInput(lnx, { action: 'notify-only' }), 'restore-lnx');
      expect(w.events).toHaveLength(1);
      return w.events[0]!;
    };
    const first = await runAt(new Date('2026-11-27T10:00:00Z'));
    const replayed = await runAt(new Date('2026-11-27T10:00:00Z'));
    const later = await runAt(new Date('2026-11-28T10:00:00Z'));
    expect([replayed.eventType, replayed.subject]).toEqual([first.eventType, first.subject]);
    expect(replayed.id).toBe(first.id);
    expect([later.eventType, later.subject]).toEqual([first.eventType, first.subject]);
    expect(later.id).not.toBe(first.id);
  });

  it('maintenance-window → waits on a durable timer for the window, then restarts', async () => {
    const w = world();
    w.azure.loseBek(lnx.id);
    // Driver starts Friday 2026-11-27 10:00 UTC; the window opens Saturday 01:00.
    const out = (await w.driver.run(
      'restoreBek',
      restoreInput(lnx, { ...restart, action: 'maintenance-window', window: parseMaintenanceWindow('Sat 01:00-05:00') }),
    )) as RestoreBekOutput;
    expect(out.outcome).toBe('restored');
    expect(w.driver.timers[0].fireAt).toBe('2026-11-28T01:00:00.000Z');
    expect(w.driver.statuses.some((s) => (s.status as { phase: string }).phase === 'waiting-for-window')).toBe(true);
  });

  it.each([
    [
      'the exclusion tag was added',
      (w: ReturnType<typeof world>) => void (w.azure.vm(lnx.id).tags = { ...w.azure.vm(lnx.id).tags, 'ade-autopilot': 'skip' }),
      /exclusion tag/,
    ],
    [
      "someone else's restart healed it",
      (w: ReturnType<typeof world>) => void (w.azure.vm(lnx.id).instanceView = structuredClone(lnx.instanceView)),
      /no longer reports the BEK missing/,
    ],
  ])('maintenance-window: looks again when the window opens; %s → no power operation', async (_what, change, reason) => {
    const w = world();
    w.azure.loseBek(lnx.id);
    w.driver.onTimer = () => change(w);
    const out = (await w.driver.run(
      'restoreBek',
      restoreInput(lnx, { ...restart, action: 'maintenance-window', window: parseMaintenanceWindow('Sat 01:00-05:00') }),
    )) as RestoreBekOutput;
    expect(out.outcome).toBe('nothing');
    expect(out.reason).toMatch(reason);
    expect(w.azure.count('deallocate') + w.azure.count('start')).toBe(0);
  });

  it('healthy VM → nothing, no writes', async () => {
    const w = world();
    const out = (await w.driver.run('restoreBek', restoreInput(win))) as RestoreBekOutput;
    expect(out.outcome).toBe('nothing');
    expect(w.events).toEqual([]);
  });
});

const signal = { source: 'on-demand' as const, why: 'test' };
const remediate = (target: RemediateVmInput['target']): RemediateVmInput => ({ target, policy, heal: restart, signal });

describe('remediateVm', () => {
  it("ADE extension removed from an encrypted VM → redeployed with the disks' vault and KEK and a new SequenceVersion", async () => {
    const w = world();
    const vm = w.azure.vm(win.id);
    vm.extensions = [];
    vm.instanceView!.extensions = [];
    const out = (await w.driver.run('remediateVm', remediate({ kind: 'vm', vmId: win.id }))) as RemediateVmOutput;
    expect(out).toMatchObject({ action: 'redeploy-extension', result: 'succeeded' });
    const ext = w.azure.vm(win.id).extensions[0];
    expect(ext).toMatchObject({ publisher: 'Microsoft.Azure.Security', type: 'AzureDiskEncryption', typeHandlerVersion: '2.2' });
    expect(ext.settings).toMatchObject({
      KeyVaultResourceId: vaultIdOf(win),
      KeyEncryptionKeyURL: winKek,
      EncryptionOperation: 'EnableEncryption',
      VolumeType: 'All',
    });
    expect(ext.settings?.SequenceVersion).not.toBe(win.extensions[0].settings?.SequenceVersion);
    expect(w.events.map((e) => e.eventType)).toEqual(['AdeAutopilot.DriftRemediated']);
  });

  it('managed vault write with the flag off → vault repaired', async () => {
    const w = world();
    w.azure.vaults.get(normaliseResourceId(vaultIdOf(win)))!.enabledForDiskEncryption = false;
    w.azure.vaults.get(normaliseResourceId(vaultIdOf(win)))!.accessPolicies = [];
    const out = (await w.driver.run('remediateVm', remediate({ kind: 'vault', vaultId: vaultIdOf(win) }))) as RemediateVmOutput;
    expect(out).toMatchObject({ action: 'repair-vault', result: 'succeeded' });
    expect(out.detail).toContain('disk-encryption-disabled');
    expect(out.detail).toContain('access-policy-missing');
    expect(w.azure.vaults.get(normaliseResourceId(vaultIdOf(win)))!.enabledForDiskEncryption).toBe(true);
    expect(w.events.map((e) => e.eventType)).toEqual(['AdeAutopilot.DriftRemediated']);
  });

  it('unencrypted VM → encryptVm sub-orchestration', async () => {
    const w = world();
    const plain = structuredClone(loadVm('win-sp-encrypted'));
    plain.extensions = [];
    plain.instanceView = { statuses: [{ code: 'PowerState/running' }], disks: [{ name: plain.osDisk.name, statuses: [] }], extensions: [] };
    w.azure.addVm(plain);
    const out = (await w.driver.run('remediateVm', remediate({ kind: 'vm', vmId: plain.id }))) as RemediateVmOutput;
    expect(out).toMatchObject({ action: 'encrypt', result: 'succeeded' });
    expect(w.encryptCalls.map((c) => c.vmId)).toEqual([plain.id]);
    expect(w.events.map((e) => e.eventType)).toEqual(['AdeAutopilot.VmEncrypted']);
  });

  it('encrypted VM with its BEK secret soft-deleted → restore sub-orchestration recovers it', async () => {
    const w = world();
    w.azure.secret(lnxSecret).deleted = true;
    const out = (await w.driver.run('remediateVm', remediate({ kind: 'vm', vmId: lnx.id }))) as RemediateVmOutput;
    expect(out).toMatchObject({ action: 'restore', result: 'succeeded' });
    expect(w.azure.secret(lnxSecret).deleted).toBe(false);
    expect(w.azure.count('deallocate')).toBe(0); // the guest still has its key: recovery alone
    w.assertNoSecrets();
  });

  it('healthy encrypted VM → nothing, with the reason', async () => {
    const w = world();
    const out = (await w.driver.run('remediateVm', remediate({ kind: 'vm', vmId: win.id }))) as RemediateVmOutput;
    expect(out).toMatchObject({ action: 'nothing', result: 'skipped' });
    expect(out.reason).toContain('healthy');
    expect(w.events).toEqual([]);
  });
});

function fleet(azure: FakeAzure, counts: { plain: number; excluded: number; encrypted: number }) {
  const base = loadVm('win-sp-encrypted');
  for (const [kind, n] of Object.entries(counts)) {
    for (let i = 0; i < n; i++) {
      const vm = structuredClone(base);
      vm.name = `${kind}-${String(i).padStart(3, '0')}`;
      vm.id = vm.id.replace(/win-enc-01$/, vm.name);
      if (kind !== 'encrypted') {
        vm.extensions = [];
        vm.instanceView = { statuses: [{ code: 'PowerState/running' }], disks: [], extensions: [] };
      }
      if (kind === 'excluded') vm.tags = { 'ade-autopilot': 'skip' };
      azure.addVm(vm);
    }
  }
}

describe('sweep', () => {
  const counts = { plain: 300, excluded: 120, encrypted: 80 };
  const sweepInput = (dryRun: boolean): SweepInput => ({
    kind: 'backfill',
    policy,
    heal: restart,
    dryRun,
    concurrency: 20,
    readsPerSecond: 10,
    pollSeconds: 30,
  });

  it('dry run over 500 VMs: a report with counts per decision and reason, nothing started', async () => {
    const w = world();
    w.azure.vms.clear();
    fleet(w.azure, counts);
    const out = (await w.driver.run('sweep', sweepInput(true))) as SweepOutput;
    expect(out.report.total).toBe(500);
    expect(out.report.byDecision).toEqual({ encrypt: 300, skip: 120, 'already-encrypted': 80 });
    expect(out.report.byReason['skip/exclusion-tag']).toBe(120);
    expect(out.report.wouldChange).toHaveLength(300);
    expect(out.started).toBe(0);
    expect(w.control.instances.size).toBe(0);
    expect(out.pages).toBe(5);
    expect(w.azure.count('listVms')).toBe(5);
  });

  it("a forged sweep start whose policy drops the exclusion tag still skips the excluded VMs (the app's policy decides)", async () => {
    const w = world(policy);
    w.azure.vms.clear();
    fleet(w.azure, { plain: 5, excluded: 7, encrypted: 0 });
    const forged = { ...policy, scope: { ...policy.scope, exclusionTag: { name: 'no-such-tag' } } };
    const out = (await w.driver.run('sweep', { ...sweepInput(true), policy: forged })) as SweepOutput;
    expect(out.report.byDecision).toEqual({ encrypt: 5, skip: 7 });
    expect(out.started).toBe(0);
  });

  it('for real with a cap of 20: never more than 20 in flight, every eligible VM started once, counts match', async () => {
    const w = world();
    w.azure.vms.clear();
    fleet(w.azure, counts);
    const out = (await w.driver.run('sweep', sweepInput(false))) as SweepOutput;
    expect(out.started).toBe(300);
    expect(out.completed).toBe(300);
    expect(out.failed).toBe(0);
    expect(out.peakInFlight).toBeLessThanOrEqual(20);
    expect(w.control.peak).toBeLessThanOrEqual(20);
    expect(w.control.peak).toBe(20);
    const started = [...w.control.instances.values()].map((i) => (i.start.input as EncryptVmInput).vmId);
    expect(new Set(started).size).toBe(300);
    expect(started.every((id) => id.includes('/plain-'))).toBe(true);
    expect(out.report.byDecision).toEqual({ encrypt: 300, skip: 120, 'already-encrypted': 80 });
    // Progress was visible while it ran, and the history was cut with continue-as-new.
    expect(w.driver.statuses.some((s) => (s.status as { inFlight: number }).inFlight === 20)).toBe(true);
    expect(w.driver.history.filter((h) => h.kind === 'input' && h.name === 'sweep').length).toBeGreaterThan(1);
    expect(w.events.at(-1)?.eventType).toBe('AdeAutopilot.SweepCompleted');
  });

  it.each([
    // sweep input's publishOutcome → what every encryptVm run it starts gets
    [true, true],
    [false, undefined],
    [undefined, undefined],
  ])('backfill with publishOutcome=%s starts encryptVm with publishOutcome=%s (across continue-as-new)', async (publish, expected) => {
    const w = world();
    w.azure.vms.clear();
    fleet(w.azure, { plain: 120, excluded: 0, encrypted: 0 });
    const input: SweepInput = { ...sweepInput(false), concurrency: 5, ...(publish === undefined ? {} : { publishOutcome: publish }) };
    const out = (await w.driver.run('sweep', input)) as SweepOutput;
    expect(out.started).toBe(120);
    expect(w.driver.history.filter((h) => h.kind === 'input' && h.name === 'sweep').length).toBeGreaterThan(1);
    const flags = [...w.control.instances.values()].map((i) => (i.start.input as EncryptVmInput).publishOutcome);
    expect(flags).toEqual(Array.from({ length: 120 }, () => expected));
  });

  it('paces ARM reads to the budget on orchestration time', async () => {
    const w = world();
    w.azure.vms.clear();
    w.azure.pageSize = 10;
    fleet(w.azure, { plain: 0, excluded: 100, encrypted: 0 });
    const started = w.driver.now.getTime();
    const out = (await w.driver.run('sweep', { ...sweepInput(true), readsPerSecond: 2 })) as SweepOutput;
    expect(out.reads).toBe(10);
    // 10 reads at 2/s: the last one may not go before 5 s.
    expect(w.driver.now.getTime() - started).toBeGreaterThanOrEqual(5000);
  });

  it('BEK health sweep: finds the VMs reporting the BEK missing and starts restoreBek for them', async () => {
    const w = world();
    w.azure.loseBek(lnx.id);
    const out = (await w.driver.run('sweep', { ...sweepInput(false), kind: 'bek-health' })) as SweepOutput;
    expect(out.report.byDecision).toEqual({ 'bek-missing': 1, 'bek-healthy': 1 });
    const starts = [...w.control.instances.values()].map((i) => i.start);
    expect(starts.map((s) => [s.orchestrator, (s.input as RestoreBekInput).vmId.toLowerCase()])).toEqual([
      ['restoreBek', lnx.id.toLowerCase()],
    ]);
  });
});

describe('ADE_DRY_RUN: every remediation path reports what it would do and changes nothing', () => {
  const dry = { ...policy, dryRun: true };
  const WRITES = ['beginDeployExtension', 'deallocate', 'start', 'ensureVault', 'recoverKey', 'recoverSecret'];
  const plainVm = () => {
    const plain = structuredClone(loadVm('win-sp-encrypted'));
    plain.extensions = [];
    plain.instanceView = { statuses: [{ code: 'PowerState/running' }], disks: [{ name: plain.osDisk.name, statuses: [] }], extensions: [] };
    return plain;
  };
  type World = ReturnType<typeof world>;
  const cases: [what: string, arrange: (w: World) => RemediateVmInput['target'], action: string, would: RegExp][] = [
    ['unencrypted VM', (w) => (w.azure.addVm(plainVm()), { kind: 'vm', vmId: plainVm().id }), 'encrypt', /would encrypt the VM/],
    [
      'ADE extension removed',
      (w) => {
        const vm = w.azure.vm(win.id);
        vm.extensions = [];
        vm.instanceView!.extensions = [];
        return { kind: 'vm', vmId: win.id };
      },
      'redeploy-extension',
      /would redeploy the ADE extension/,
    ],
    ['BEK files deleted', (w) => (w.azure.loseBek(lnx.id), { kind: 'vm', vmId: lnx.id }), 'restore', /would restore its BEK/],
    [
      'BEK secret soft-deleted',
      (w) => ((w.azure.secret(lnxSecret).deleted = true), { kind: 'vm', vmId: lnx.id }),
      'restore',
      /would restore/,
    ],
    [
      'managed vault flag off (vault signal)',
      (w) => {
        w.azure.vaults.get(normaliseResourceId(vaultIdOf(win)))!.enabledForDiskEncryption = false;
        return { kind: 'vault', vaultId: vaultIdOf(win) };
      },
      'repair-vault',
      /would repair vault/,
    ],
  ];

  it.each(cases)('%s → would %s, no write, no power operation, no outcome event', async (_what, arrange, action, would) => {
    const w = world();
    const target = arrange(w);
    const out = (await w.driver.run('remediateVm', { target, policy: dry, heal: restart, signal })) as RemediateVmOutput;
    expect(out).toMatchObject({ action, result: 'skipped', dryRun: true });
    expect(out.detail).toMatch(would);
    expect(w.azure.calls.filter((c) => WRITES.includes(c.op))).toEqual([]);
    expect(w.azure.secret(lnxSecret).deleted).toBe(_what === 'BEK secret soft-deleted');
    expect(w.encryptCalls).toEqual([]);
    expect(w.events).toEqual([]);
  });

  it.each([
    ['BEK files deleted', (w: World) => w.azure.loseBek(win.id)],
    ['BEK secret and KEK soft-deleted', (w: World) => ((w.azure.secret(winSecret).deleted = true), (w.azure.key(winKek).deleted = true))],
  ])('restoreBek started directly: %s → the steps it would take, none taken', async (_what, arrange) => {
    const w = world();
    arrange(w);
    const out = (await w.driver.run('restoreBek', { vmId: win.id, policy: dry, heal: restart })) as RestoreBekOutput;
    expect(out.outcome).toBe('nothing');
    expect(out.reason).toMatch(/^Dry run \(ADE_DRY_RUN\): would /);
    expect(out.wouldDo?.length).toBeGreaterThan(0);
    expect(w.azure.calls.filter((c) => WRITES.includes(c.op))).toEqual([]);
    expect(w.events).toEqual([]);
  });

  it.each([
    [
      'BEK files and secret purged',
      (w: World) => (w.azure.loseBek(win.id), (w.azure.secret(winSecret).purged = true)),
      'unrecoverable',
      /^report 1 unrecoverable secret$/,
    ],
    [
      'BEK missing and no secret referenced',
      (w: World) => {
        w.azure.loseBek(win.id);
        const vm = w.azure.vm(win.id);
        vm.osDisk.encryptionSettings = undefined;
        for (const d of vm.instanceView!.disks ?? []) d.encryptionSettings = undefined;
      },
      'action-required',
      /^report action required/,
    ],
  ])('restoreBek started directly: %s → %s reported as would-do, nothing published', async (_what, arrange, outcome, would) => {
    const w = world();
    arrange(w);
    const out = (await w.driver.run('restoreBek', { vmId: win.id, policy: dry, heal: restart })) as RestoreBekOutput;
    expect(out.outcome).toBe(outcome);
    expect(out.wouldDo?.[0]).toMatch(would);
    expect(w.azure.calls.filter((c) => WRITES.includes(c.op))).toEqual([]);
    expect(w.events).toEqual([]);
  });

  it("a forged start with dryRun false follows the app's ADE_DRY_RUN: restoreBek and remediateVm write and publish nothing", async () => {
    const w = world(dry);
    w.azure.loseBek(win.id);
    w.azure.secret(winSecret).deleted = true;
    const restored = (await w.driver.run('restoreBek', { vmId: win.id, policy, heal: restart })) as RestoreBekOutput;
    expect(restored.reason).toMatch(/^Dry run \(ADE_DRY_RUN\): would /);
    const remediated = (await w.driver.run('remediateVm', {
      target: { kind: 'vm', vmId: win.id },
      policy,
      heal: restart,
      signal,
    })) as RemediateVmOutput;
    expect(remediated).toMatchObject({ action: 'restore', result: 'skipped', dryRun: true });
    expect(w.azure.calls.filter((c) => WRITES.includes(c.op))).toEqual([]);
    expect(w.azure.secret(winSecret).deleted).toBe(true);
    expect(w.events).toEqual([]);
  });
});
