/**
 * Assertions shared by the pipeline suites: what Azure (the simulator) must look like after a run,
 * ARM write counting from the simulator's request log, and the secret scan.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { ComputeManagementClient } from '@azure/arm-compute';
import { expect } from 'vitest';
import { orchestrationInstanceId } from '../../core/names';
import { HUB_KEYS, messageOf, type Pipeline, type InstanceStatus } from './harness';

export interface ExpectedRun {
  vmId: string;
  os: 'Windows' | 'Linux';
  mode: 'aad' | 'single-pass';
  kek: boolean;
}

/** Waits for the VM's orchestration and checks its output and the VM's state in Azure. */
export async function expectEncrypted(p: Pipeline, run: ExpectedRun, timeoutMs = 90_000): Promise<InstanceStatus> {
  const instanceId = orchestrationInstanceId(run.vmId);
  const status = await waitForStarted(p, instanceId).then(() => p.waitForInstance(instanceId, timeoutMs));
  expect(status.runtimeStatus, JSON.stringify(status.customStatus)).toBe('Completed');
  expect(status.output, JSON.stringify(status.output)).toMatchObject({ vmId: run.vmId, outcome: 'encrypted', mode: run.mode });
  expect(status.customStatus).toMatchObject({ phase: 'done', vmId: run.vmId });

  const { resourceGroup, name } = vmParts(run.vmId);
  const vm = await p.compute.virtualMachines.get(resourceGroup, name, { expand: 'instanceView' });
  const extension = (vm.resources ?? []).find((r) => r.publisher === 'Microsoft.Azure.Security');
  expect(extension?.typePropertiesType).toBe(run.os === 'Windows' ? 'AzureDiskEncryption' : 'AzureDiskEncryptionForLinux');
  expect(extension?.typeHandlerVersion).toBe(
    { Windows: { aad: '1.1', 'single-pass': '2.2' }, Linux: { aad: '0.1', 'single-pass': '1.1' } }[run.os][run.mode],
  );
  const settings = (extension?.settings ?? {}) as Record<string, string>;
  expect(settings.EncryptionOperation).toBe('EnableEncryption');
  expect(settings.VolumeType).toBe('All');
  expect(settings.KeyVaultResourceId).toMatch(/\/providers\/Microsoft\.KeyVault\/vaults\/adeap-/);
  expect(Boolean(settings.KeyEncryptionKeyURL)).toBe(run.kek);
  expect(Boolean(settings.AADClientID)).toBe(run.mode === 'aad');
  expect(JSON.stringify(extension)).not.toMatch(/AADClientSecret/);

  const model = vm.storageProfile?.osDisk?.encryptionSettings;
  if (run.mode === 'aad') {
    // The dual-pass second pass: the model carries the secret URL the extension reported.
    expect(model?.enabled).toBe(true);
    expect(model?.diskEncryptionKey?.secretUrl).toBe(status.output.secretUrl);
    expect(model?.diskEncryptionKey?.sourceVault?.id).toBe(settings.KeyVaultResourceId);
    expect(Boolean(model?.keyEncryptionKey?.keyUrl)).toBe(run.kek);
  } else {
    // Single-pass never touches the model; the platform stamps the disks.
    expect(model).toBeUndefined();
    const stamped = (vm.instanceView?.disks ?? []).filter((d) => (d.encryptionSettings ?? []).some((s) => s.enabled));
    expect(stamped.length).toBeGreaterThan(0);
  }
  return status;
}

/** Waits until an orchestration with that id exists (the run was started). */
export async function waitForStarted(p: Pipeline, instanceId: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await p.getInstance(instanceId))) {
    if (Date.now() > deadline) throw new Error(`no orchestration ${instanceId} was started`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function vmParts(vmId: string): { resourceGroup: string; name: string } {
  const m = /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i.exec(vmId);
  if (!m) throw new Error(`not a VM id: ${vmId}`);
  return { resourceGroup: m[1]!, name: m[2]! };
}

export interface RequestEntry {
  seq: number;
  service: string;
  operation: string;
  method: string;
  path: string;
  /** The host the request went to (a Key Vault data-plane request names its vault here). */
  host?: string;
  status: number;
  principal: string;
}

/** The app's requests from the simulator's request log (all pages). */
export async function appRequests(p: Pipeline, since = 0): Promise<RequestEntry[]> {
  const ids = new Set([p.sim.seed.clientId, p.sim.seed.clientObjectId].map((s) => s.toLowerCase()));
  const out: RequestEntry[] = [];
  let cursor = since;
  for (;;) {
    const page = await p.control<{ lastSeq: number; value: RequestEntry[] }>('GET', `/_sim/requests?since=${cursor}&limit=5000`);
    const fresh = page.value.filter((e) => e.seq > cursor);
    if (fresh.length === 0) break;
    out.push(...fresh.filter((e) => ids.has(String(e.principal).toLowerCase())));
    cursor = Math.max(...fresh.map((e) => e.seq));
    if (cursor >= page.lastSeq) break;
  }
  return out;
}

export function armWrites(entries: RequestEntry[]): RequestEntry[] {
  return entries.filter((e) => e.service === 'arm' && ['PUT', 'PATCH', 'DELETE'].includes(e.method) && e.status < 400);
}

/**
 * Every secret the simulator handed out or stored: client secrets (seeded and Graph addPassword),
 * and the values of all Key Vault secrets (BEKs / passphrases, wrapped or not).
 */
export async function issuedSecrets(p: Pipeline, recorded: readonly string[]): Promise<string[]> {
  const snapshot = await p.control<Record<string, unknown>>('POST', '/_sim/state/snapshot');
  const values: string[] = [p.sim.seed.clientSecret, p.user.clientSecret, ...recorded];
  const walk = (node: unknown, underSecrets: boolean): void => {
    if (Array.isArray(node)) node.forEach((n) => walk(n, underSecrets));
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (underSecrets && k === 'value' && typeof v === 'string') values.push(v);
        else walk(v, underSecrets || k === 'secrets');
      }
    }
  };
  walk(snapshot.keyvault, false);
  return [...new Set(values.filter((v) => v.length >= 12))];
}

/** Records every password the simulated directory issues (Graph addPassword), in-process. */
export function recordIssuedPasswords(p: Pipeline): string[] {
  const recorded: string[] = [];
  const directory = p.sim.ctx.directory as unknown as { addPassword: (...args: unknown[]) => { secretText: string } };
  const original = directory.addPassword.bind(directory);
  directory.addPassword = (...args: unknown[]) => {
    const result = original(...args);
    recorded.push(result.secretText);
    return result;
  };
  return recorded;
}

/** Everything the app left behind that a human or a log pipeline could read. */
export async function observableText(p: Pipeline): Promise<Array<{ where: string; text: string }>> {
  const out: Array<{ where: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else out.push({ where: `host state ${path.relative(p.host.stateDir, full)}`, text: readFileSync(full).toString('latin1') });
    }
  };
  walk(p.host.stateDir);
  out.push({ where: 'host logs', text: JSON.stringify(p.host.logs) });
  for (const instance of await p.listInstances()) {
    const res = await fetch(
      `${p.host.baseUrl}/runtime/webhooks/durabletask/instances/` +
        `${encodeURIComponent(instance.instanceId)}?showHistory=true&showHistoryOutput=true&showInput=true&` +
        `code=${encodeURIComponent(p.host.keys!.durable)}`,
    );
    out.push({ where: `status of ${instance.instanceId}`, text: await res.text() });
  }
  return out;
}

export function secretHits(secrets: readonly string[], texts: ReadonlyArray<{ where: string; text: string }>): string[] {
  const hits: string[] = [];
  for (const secret of secrets) {
    for (const { where, text } of texts) if (text.includes(secret)) hits.push(`${secret.slice(0, 3)}… in ${where}`);
  }
  return hits;
}

/**
 * Signals the `vault` entity over the host's Durable HTTP API (what anyone holding the Durable system key can do) and
 * waits until it is applied.
 */
export async function signalVaultEntity(p: Pipeline, name: string, operation: 'set' | 'acquire', input: unknown): Promise<void> {
  const res = await p.host.fetch(`/runtime/webhooks/durabletask/entities/vault/${name}?op=${operation}&code=${HUB_KEYS.durable}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  expect(res.status).toBe(202);
  await p.host.durable.idle();
}

/**
 * Plants forged ready state in the vault entity (a `set` by another holder) and returns the simulator's request-log
 * position just after it, so the caller can look at what the app did from then on.
 */
export async function plantVaultState(p: Pipeline, name: string, ready: unknown): Promise<number> {
  await signalVaultEntity(p, name, 'set', { holder: 'someone-else', ready });
  return (await p.control<{ lastSeq: number }>('GET', '/_sim/requests?limit=1')).lastSeq;
}

/** The region vault's one dual-pass Entra app (shared by every VM there) keeps no password: each run removed its own. */
export async function expectOneVaultAppWithoutPasswords(p: Pipeline): Promise<void> {
  const principals = await p.control<{ value: Array<{ displayName: string; passwordCredentials: unknown[] }> }>('GET', '/_sim/principals');
  const apps = principals.value.filter((sp) => sp.displayName.startsWith('ade-autopilot-adeap-'));
  expect(apps).toHaveLength(1);
  expect(apps[0]!.passwordCredentials).toEqual([]);
}

/** A Linux VM with one data disk in `rg-work` of `subscriptionId`, created by `credential` (the demo user) through the SDK. */
export async function createLinuxVmIn(credential: TokenCredential, subscriptionId: string, name: string): Promise<string> {
  const compute = new ComputeManagementClient(credential, subscriptionId);
  const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(
    'rg-work',
    name,
    {
      location: 'westeurope',
      hardwareProfile: { vmSize: 'Standard_D4s_v5' },
      storageProfile: {
        imageReference: { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest' },
        osDisk: { createOption: 'FromImage', osType: 'Linux' },
        dataDisks: [{ lun: 0, createOption: 'Empty', diskSizeGB: 64 }],
      },
      osProfile: { computerName: name, adminUsername: 'azureuser', linuxConfiguration: { disablePasswordAuthentication: true } },
    },
    { updateIntervalInMs: 50 },
  );
  return vm.id!;
}

/** The outcome events the publishing activity sent for a VM or scale set id, in order (its JSON log lines, not OpenTelemetry copies). */
export function publishedOutcomes(p: Pipeline, id: string): string[] {
  return p.host.logs
    .filter(
      (l) =>
        String(l.category).startsWith('Function.remediationPublishOutcome') &&
        l.source !== 'OpenTelemetry' &&
        messageOf(l).startsWith('outcome ') &&
        messageOf(l).toLowerCase().includes(`for ${id.toLowerCase()}:`),
    )
    .map((l) => messageOf(l).split(' ')[1]!);
}
