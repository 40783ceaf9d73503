/**
 * ComputePort against the Azure simulator over real HTTPS through its proxy.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretValue } from '../../azure/secret-value';
import { createAzurePorts } from '../../azure/clients';
import type { AzurePorts } from '../../azure/ports';
import { buildAdeExtension } from '../../core/extension-settings';
import { formatKeyVaultResourceId } from '../../core/resource-ids';
import { inspectReadMaxAgeMs } from '../../orchestrations/activities';
import { startSimHarness, type SimHarness } from './sim-harness';

let h: SimHarness;
let ports: AzurePorts;
let sub: string;
let linuxVm: string;
let windowsVm: string;
const extraVms: string[] = [];

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Counts the app's ARM reads (GET) from now on. */
async function appArmReadCounter(): Promise<() => Promise<number>> {
  const before = await h.requests({ service: 'arm' });
  return async () =>
    (await h.requests({ service: 'arm', sinceSeq: before.lastSeq })).value.filter(
      (e) => e.principal === h.sim.seed.clientObjectId && e.method === 'GET',
    ).length;
}

beforeAll(async () => {
  h = await startSimHarness();
  await h.fastDurations(200);
  sub = h.sim.seed.subscriptionId;
  ports = createAzurePorts({ auth: { mode: 'environment' } }, { pollIntervalMs: 100 });
  const linux = await h.control<{ ids: string[] }>('POST', '/_sim/arm/vms', {
    subscriptionId: sub,
    resourceGroup: 'rg-compute',
    location: 'westeurope',
    osType: 'Linux',
    count: 1,
    name: 'lin1',
    dataDisks: 1,
    tags: { Owner: 'team-a' },
  });
  const windows = await h.control<{ ids: string[] }>('POST', '/_sim/arm/vms', {
    subscriptionId: sub,
    resourceGroup: 'rg-compute',
    location: 'westeurope',
    osType: 'Windows',
    count: 1,
    name: 'win1',
  });
  const more = await h.control<{ ids: string[] }>('POST', '/_sim/arm/vms', {
    subscriptionId: sub,
    resourceGroup: 'rg-more',
    location: 'northeurope',
    osType: 'Linux',
    count: 5,
    namePrefix: 'bulk',
  });
  // The vaults' resource group comes from the infra deployment, not from the adapters.
  await h.control('POST', '/_sim/arm/resourcegroups', { subscriptionId: sub, name: 'rg-vaults', location: 'westeurope' });
  linuxVm = linux.ids[0]!;
  windowsVm = windows.ids[0]!;
  extraVms.push(...more.ids);
});

afterAll(async () => {
  await h?.stop();
});

describe('ComputePort on the simulator', () => {
  it('reads a VM with its instance view into a VmSnapshot', async () => {
    const vm = await ports.compute.getVm(linuxVm, { instanceView: true });
    expect(vm).toMatchObject({
      id: linuxVm,
      name: 'lin1',
      resourceGroup: 'rg-compute',
      subscriptionId: sub,
      location: 'westeurope',
      osType: 'Linux',
      powerState: 'running',
      tags: { Owner: 'team-a' },
    });
    expect(vm.dataDisks).toHaveLength(1);
    expect(vm.osDisk.id).toMatch(/\/providers\/Microsoft\.Compute\/disks\//i);
    expect(vm.instanceView?.disks?.map((d) => d.name)).toContain(vm.osDisk.name);
    const win = await ports.compute.getVm(windowsVm);
    expect(win.osType).toBe('Windows');
    expect(win.powerState).toBe('unknown');
    expect(win.instanceView).toBeUndefined();
  });

  it('lists every VM of the subscription, following continuation tokens', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await ports.compute.listVms(sub, token);
      seen.push(...page.vms.map((v) => v.id.toLowerCase()));
      token = page.continuationToken;
      pages++;
    } while (token && pages < 50);
    expect(new Set(seen)).toEqual(new Set([linuxVm, windowsVm, ...extraVms].map((id) => id.toLowerCase())));
  });

  it('maps a missing VM to NotFoundError (not retryable)', async () => {
    const missing = linuxVm.replace(/lin1$/, 'nope');
    await expect(ports.compute.getVm(missing)).rejects.toMatchObject({ kind: 'not-found', retryable: false });
    await expect(ports.compute.getExtensionInstanceView(missing.replace('nope', 'lin1'), 'NoSuchExtension')).resolves.toBeUndefined();
  });

  it('starts the ADE extension PUT without waiting for it, then reports progress through the instance view', async () => {
    const vaultName = `kvc${sub.slice(0, 8)}`;
    const { vault } = await ports.vaults.ensureVault({
      subscriptionId: sub,
      resourceGroup: 'rg-vaults',
      name: vaultName,
      location: 'westeurope',
      tenantId: h.sim.seed.tenantId,
      softDeleteRetentionInDays: 7,
      enablePurgeProtection: true,
    });
    const extension = buildAdeExtension({
      os: 'Linux',
      mode: 'single-pass',
      vault: { url: vault.vaultUri.replace(/\/$/, ''), resourceId: formatKeyVaultResourceId(sub, 'rg-vaults', vaultName) },
      volumeType: 'Data',
      sequenceVersion: 'seq-1',
    });
    const before = await h.requests({ service: 'arm' });
    const started = await ports.compute.beginDeployExtension(linuxVm, extension.name, { ...extension, location: 'westeurope' });
    expect(started.extensionId.toLowerCase()).toBe(`${linuxVm}/extensions/${extension.name}`.toLowerCase());

    const after = await h.requests({ service: 'arm', sinceSeq: before.lastSeq });
    const ours = after.value.filter((e) => e.principal === h.sim.seed.clientObjectId);
    // Exactly the PUT: no VM read (location given) and no polling of the async operation.
    expect(ours.map((e) => e.method)).toEqual(['PUT']);
    expect(ours[0]!.path.toLowerCase()).toContain(`/extensions/${extension.name.toLowerCase()}`);

    const status = await waitFor('the extension to finish', async () => {
      const s = await ports.compute.getExtensionInstanceView(linuxVm, extension.name);
      return s && s.provisioningState !== 'Creating' && s.provisioningState !== 'Updating' ? s : undefined;
    });
    expect(status).toMatchObject({
      name: extension.name,
      publisher: 'Microsoft.Azure.Security',
      type: 'AzureDiskEncryptionForLinux',
      typeHandlerVersion: '1.1',
    });
    expect(status.settings).toMatchObject({ KeyVaultURL: extension.settings.KeyVaultURL, VolumeType: 'Data', SequenceVersion: 'seq-1' });
    expect(status.instanceView?.statuses?.length).toBeGreaterThan(0);

    const snapshot = await ports.compute.getVm(linuxVm);
    expect(snapshot.extensions.map((e) => e.type)).toContain('AzureDiskEncryptionForLinux');
  });

  it('updates only the OS-disk encryption settings, merging tags into the same single write', async () => {
    const vaultId = formatKeyVaultResourceId(sub, 'rg-vaults', 'kvmodel');
    const secretUrl = 'https://kvmodel.vault.azure.net/secrets/3a8e1c6a-0000-4000-8000-000000000001/0123456789abcdef0123456789abcdef';
    const before = await h.requests({ service: 'arm' });
    const updated = await ports.compute.updateOsDiskEncryptionSettings(
      windowsVm,
      { enabled: true, diskEncryptionKey: { secretUrl, sourceVault: { id: vaultId } } },
      { mergeTags: { 'ade-autopilot/state': 'encrypted' } },
    );
    if (!updated) throw new Error('the update returned no VM');
    expect(updated.osDisk.encryptionSettings).toMatchObject({
      enabled: true,
      diskEncryptionKey: { secretUrl, sourceVault: { id: vaultId } },
    });
    const after = await h.requests({ service: 'arm', sinceSeq: before.lastSeq });
    const writes = after.value.filter(
      (e) => e.principal === h.sim.seed.clientObjectId && ['PUT', 'PATCH', 'POST', 'DELETE'].includes(e.method),
    );
    expect(writes.map((e) => e.method)).toEqual(['PATCH']);

    const reread = await ports.compute.getVm(windowsVm);
    expect(reread.tags).toMatchObject({ 'ade-autopilot/state': 'encrypted' });
    expect(reread.vmSize).toBe(updated.vmSize);
  });

  it('acceptedOnly: one PATCH and no operation-status polls; the model carries the settings at once', async () => {
    const vaultId = formatKeyVaultResourceId(sub, 'rg-vaults', 'kvmodel');
    const secretUrl = 'https://kvmodel.vault.azure.net/secrets/3a8e1c6a-0000-4000-8000-000000000002/0123456789abcdef0123456789abcdef';
    const before = await h.requests({ service: 'arm' });
    await ports.compute.updateOsDiskEncryptionSettings(
      linuxVm,
      { enabled: true, diskEncryptionKey: { secretUrl, sourceVault: { id: vaultId } } },
      { acceptedOnly: true },
    );
    const after = await h.requests({ service: 'arm', sinceSeq: before.lastSeq });
    const mine = after.value.filter((e) => e.principal === h.sim.seed.clientObjectId);
    expect(mine.map((e) => e.method)).toEqual(['PATCH']);
    const reread = await ports.compute.getVm(linuxVm);
    expect(reread.osDisk.encryptionSettings?.diskEncryptionKey?.secretUrl).toBe(secretUrl);
  });

  it('maxAgeMs: a recent read with instance view is reused, a write through the adapter forgets it', async () => {
    const reads = await appArmReadCounter();
    await ports.compute.getVm(windowsVm, { instanceView: true });
    await ports.compute.getVm(windowsVm, { instanceView: true, maxAgeMs: 60_000 });
    expect(await reads()).toBe(1);
    await ports.compute.getVm(windowsVm, { instanceView: true }); // no maxAgeMs: always a read
    expect(await reads()).toBe(2);
    await ports.compute.setTags(windowsVm, { 'ade-autopilot/probe': '1' }, { replace: true });
    const afterWrite = await reads();
    const vm = await ports.compute.getVm(windowsVm, { instanceView: true, maxAgeMs: 60_000 });
    expect(await reads()).toBe(afterWrite + 1);
    expect(vm.tags).toMatchObject({ 'ade-autopilot/probe': '1' });
  });

  it("inspectVm's reuse ends at the write that started the run: a read sent before it (another run's) is not reused", async () => {
    const reads = await appArmReadCounter();
    const otherWorker = createAzurePorts({ auth: { mode: 'environment' } }, { pollIntervalMs: 100 });
    await ports.compute.getVm(windowsVm, { instanceView: true }); // e.g. an earlier run's last status read
    await new Promise((r) => setTimeout(r, 5));
    const writtenAt = new Date().toISOString();
    await otherWorker.compute.setTags(windowsVm, { 'ade-autopilot/probe': 'after-the-read' }); // the write that starts a run
    const beforeInspect = await reads();
    const inspected = await ports.compute.getVm(windowsVm, {
      instanceView: true,
      maxAgeMs: inspectReadMaxAgeMs(writtenAt, Date.now()),
    });
    expect(await reads()).toBe(beforeInspect + 1);
    expect(inspected.tags).toMatchObject({ 'ade-autopilot/probe': 'after-the-read' });
    // A read sent after the write (vmWritten's re-read) is reused.
    await ports.compute.getVm(windowsVm, { instanceView: true, maxAgeMs: inspectReadMaxAgeMs(writtenAt, Date.now()) });
    expect(await reads()).toBe(beforeInspect + 1);
  });

  it.each([
    { name: 'no write time (HTTP starter, sweep): no reuse', readSince: undefined, now: 1_000_000, expected: 0 },
    { name: 'not a time', readSince: 'yesterday', now: 1_000_000, expected: 0 },
    { name: 'written 2 s ago: reads sent since then', readSince: new Date(998_000).toISOString(), now: 1_000_000, expected: 2_000 },
    { name: 'written an hour ago: at most 5 min', readSince: new Date(0).toISOString(), now: 3_600_000, expected: 300_000 },
    { name: 'written "later" (clock skew): no reuse', readSince: new Date(1_001_000).toISOString(), now: 1_000_000, expected: 0 },
  ])('inspectReadMaxAgeMs: $name', ({ readSince, now, expected }) => {
    expect(inspectReadMaxAgeMs(readSince, now)).toBe(expected);
  });

  it('merges tags by default and replaces them on request', async () => {
    const merged = await ports.compute.setTags(linuxVm, { 'ade-autopilot/updated': '2026-01-01T00:00:00Z', owner: 'team-b' });
    // ARM tag names are case-insensitive: `owner` replaces `Owner`.
    expect(merged).toEqual({ 'ade-autopilot/updated': '2026-01-01T00:00:00Z', owner: 'team-b' });
    const replaced = await ports.compute.setTags(linuxVm, { only: 'this' }, { replace: true });
    expect(replaced).toEqual({ only: 'this' });
  });

  it('deallocates and starts a VM, waiting for each', async () => {
    const vm = extraVms[0]!;
    await ports.compute.deallocate(vm);
    expect((await ports.compute.getVm(vm, { instanceView: true })).powerState).toBe('deallocated');
    await ports.compute.start(vm);
    expect((await ports.compute.getVm(vm, { instanceView: true })).powerState).toBe('running');
  });

  it('reads a managed disk and rejects ids that are not disks', async () => {
    const vm = await ports.compute.getVm(extraVms[1]!);
    const disk = await ports.compute.getDiskEncryption(vm.osDisk.id!);
    expect(disk.id.toLowerCase()).toBe(vm.osDisk.id!.toLowerCase());
    expect(disk.name).toBe(vm.osDisk.name);
    await expect(ports.compute.getDiskEncryption(vm.id)).rejects.toMatchObject({ kind: 'validation' });
  });
});

describe('protected settings', () => {
  const vaultName = 'kvprotected';
  const extension = () =>
    buildAdeExtension({
      os: 'Windows',
      mode: 'aad',
      vault: { url: `https://${vaultName}.vault.azure.net`, resourceId: formatKeyVaultResourceId(sub, 'rg-vaults', vaultName) },
      volumeType: 'All',
      sequenceVersion: 'seq-aad',
      aadClientId: '6f1c2a3b-0000-4000-8000-000000000abc',
    });

  it('only accepts SecretValue-wrapped protected settings', async () => {
    await expect(
      ports.compute.beginDeployExtension(
        extraVms[4]!,
        'AzureDiskEncryption',
        { ...extension(), location: 'northeurope' },
        { AADClientSecret: 'plain-text' as never },
      ),
    ).rejects.toMatchObject({ kind: 'validation', field: 'protectedSettings.AADClientSecret' });
  });

  it('keeps the secret out of the error when ARM rejects the PUT', async () => {
    const secret = `aad-secret-${Date.now()}`;
    const rule = await h.control<{ id: string }>('POST', '/_sim/faults', {
      service: 'arm',
      operation: 'Microsoft.Compute/virtualMachines/extensions/write',
      method: 'PUT',
      status: 400,
      code: 'InvalidParameter',
      failNext: 1,
      errorRate: 0,
    });
    try {
      const error = await ports.compute
        .beginDeployExtension(
          extraVms[4]!,
          'AzureDiskEncryption',
          { ...extension(), location: 'northeurope' },
          { AADClientSecret: new SecretValue(secret) },
        )
        .catch((e: unknown) => e as Error);
      expect(error).toMatchObject({ kind: 'validation', code: 'InvalidParameter' });
      expect((error as Error).cause).toBeUndefined();
      expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(secret);
      expect(JSON.stringify(error)).not.toContain(secret);
    } finally {
      await h.control('DELETE', `/_sim/faults/${rule.id}`);
    }
  });
});

describe('throttling (fault injection through the control API)', () => {
  it('rides out a short 429 burst inside the SDK pipeline (Retry-After honoured)', async () => {
    const rule = await h.control<{ id: string }>('POST', '/_sim/faults', {
      service: 'arm',
      operation: 'Microsoft.Compute/virtualMachines/read',
      status: 429,
      failNext: 2,
      errorRate: 0,
      retryAfterSeconds: 1,
    });
    const before = await h.requests({ service: 'arm' });
    const started = Date.now();
    const vm = await ports.compute.getVm(extraVms[2]!);
    const elapsed = Date.now() - started;
    expect(vm.id).toBe(extraVms[2]);
    const attempts = (await h.requests({ service: 'arm', sinceSeq: before.lastSeq })).value.filter((e) =>
      e.path.toLowerCase().endsWith(vm.name.toLowerCase()),
    );
    expect(attempts.map((e) => e.status)).toEqual([429, 429, 200]);
    expect(elapsed).toBeGreaterThanOrEqual(1_900); // waited Retry-After (1 s) twice
    await h.control('DELETE', `/_sim/faults/${rule.id}`);
  });

  it('surfaces persistent throttling as a retryable ThrottledError carrying Retry-After', async () => {
    const rule = await h.control<{ id: string }>('POST', '/_sim/faults', {
      service: 'arm',
      operation: 'Microsoft.Compute/virtualMachines/read',
      status: 429,
      failNext: 100,
      errorRate: 0,
      retryAfterSeconds: 1,
    });
    try {
      await expect(ports.compute.getVm(extraVms[3]!)).rejects.toMatchObject({ kind: 'throttled', retryable: true, retryAfterMs: 1000 });
    } finally {
      await h.control('DELETE', `/_sim/faults/${rule.id}`);
    }
  });
});
