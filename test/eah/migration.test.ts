/**
 * The migration report: the path of each kind of ADE VM (pure, from fixtures), and `GET /api/migration`'s handler core
 * over a mixed fleet in the simulator, read by a principal holding exactly the template's grants.
 */
import { ComputeManagementClient } from '@azure/arm-compute';
import { ClientSecretCredential, EnvironmentCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComputeAdapter } from '../../azure/compute';
import { loadConfig, toEncryptionPolicy } from '../../core/config';
import { daysUntilRetirement, migrationCsv, migrationRowOf, MIGRATION_CSV_COLUMNS, type MigrationRow } from '../../core/migration';
import type { VmSnapshot } from '../../core/vm';
import { handleMigrationReport } from '../../functions/lib/migration';
import { applyTemplateGrants } from '../../local/start/grants';
import { startSimHarness, type SimHarness } from '../azure/sim-harness';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { merge } from '../remediation/helpers';

const loadVm = (name: string): VmSnapshot =>
  JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'vms', `${name}.json`), 'utf8')) as VmSnapshot;

describe('migrationRowOf: the documented path per kind of ADE VM', () => {
  const windowsDual = loadVm('dual-pass-encrypted-windows');
  const linuxSingle = loadVm('single-pass-encrypted-linux');
  const withVolumeType = (vm: VmSnapshot, volumeType: string | null): VmSnapshot => ({
    ...vm,
    extensions: vm.extensions.map((e) => ({ ...e, settings: { ...e.settings, VolumeType: volumeType ?? undefined } })),
  });
  it.each([
    { label: 'Windows dual-pass', vm: windowsDual, supported: true, path: 'windows', mode: 'dual-pass', os: 'Windows' },
    { label: 'Linux data volumes only', vm: withVolumeType(linuxSingle, 'Data'), supported: true, path: 'linux-data', mode: 'single-pass' },
    { label: 'Linux OS volume encrypted', vm: withVolumeType(linuxSingle, 'All'), supported: true, path: 'linux-os-rebuild' },
    {
      label: 'Linux OS, size unsupported: still a rebuild',
      vm: withVolumeType(linuxSingle, 'OS'),
      supported: false,
      path: 'linux-os-rebuild',
    },
    { label: 'Linux, VolumeType unknown: treated as OS', vm: withVolumeType(linuxSingle, null), supported: true, path: 'linux-os-rebuild' },
    { label: 'Windows on a size without the capability', vm: windowsDual, supported: false, path: 'unsupported-size' },
    { label: 'Windows, size not listed in the region', vm: windowsDual, supported: undefined, path: 'unsupported-size' },
  ] as const)('$label → $path', ({ label: _label, vm, supported, path, ...expected }) => {
    const row = migrationRowOf(vm, supported)!;
    expect(row).toMatchObject({ path, ...expected });
    expect(row.reason.length).toBeGreaterThan(40);
  });

  it('reads mode, volume type and KEK from the extension and the model; a VM without ADE has no row', () => {
    const kek = 'https://kv1.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef';
    const vm = merge(loadVm('windows-base'), {
      extensions: [
        {
          name: 'AzureDiskEncryption',
          publisher: 'Microsoft.Azure.Security',
          type: 'AzureDiskEncryption',
          typeHandlerVersion: '2.2',
          settings: { EncryptionOperation: 'EnableEncryption', VolumeType: 'all', KeyEncryptionKeyURL: kek },
        },
      ],
    });
    expect(migrationRowOf(vm, true)).toMatchObject({ mode: 'single-pass', volumeType: 'All', kek, adeState: 'enabled', path: 'windows' });
    expect(migrationRowOf(loadVm('windows-base'), true)).toBeUndefined();
  });

  it.each([
    ['2026-12-02T10:00:00Z', 653],
    ['2028-09-14T23:59:59Z', 1],
    ['2028-09-15T00:00:00Z', 0],
    ['2029-01-01T00:00:00Z', 0],
  ])('days left on %s: %i', (now, days) => {
    expect(daysUntilRetirement(new Date(now))).toBe(days);
  });

  it('CSV: one header, one line per VM, quoting and formula-safe cells', () => {
    const row = migrationRowOf(windowsDual, true)!;
    const csv = migrationCsv([{ ...row, name: '=cmd|x', reason: 'a "quoted", reason' } satisfies MigrationRow], 10);
    const [header, line, end] = csv.split('\r\n');
    expect(header).toBe(MIGRATION_CSV_COLUMNS.join(','));
    expect(line).toContain(`,'=cmd|x,`);
    expect(line).toContain('"a ""quoted"", reason"');
    expect(line).toContain(',windows,10,');
    expect(end).toBe('');
  });
});

describe('GET /api/migration over a mixed fleet in the simulator', () => {
  let h: SimHarness;
  let sub: string;
  let appCompute: ComputeAdapter;
  const RG = 'rg-mig';
  const ids: Record<string, string> = {};

  async function seed(name: string, os: 'Windows' | 'Linux', extra: Record<string, unknown> = {}, rg = RG): Promise<string> {
    const { ids: created } = await h.control<{ ids: string[] }>('POST', '/_sim/arm/vms', {
      subscriptionId: sub,
      resourceGroup: rg,
      location: 'westeurope',
      osType: os,
      name,
      count: 1,
      dataDisks: 1,
      ...extra,
    });
    return (ids[name] = created[0]!);
  }

  beforeAll(async () => {
    h = await startSimHarness({ speed: 50 });
    await h.fastDurations(200);
    sub = h.sim.seed.subscriptionId;
    const admin = new EnvironmentCredential();
    const compute = new ComputeManagementClient(admin, sub);
    await h.control('POST', '/_sim/arm/vaults', {
      subscriptionId: sub,
      resourceGroup: RG,
      name: 'migvault1',
      enabledForDiskEncryption: true,
    });
    const ade = async (rg: string, name: string, os: 'Windows' | 'Linux', volumeType: string) =>
      compute.virtualMachineExtensions.beginCreateOrUpdateAndWait(rg, name, 'AzureDiskEncryption', {
        location: 'westeurope',
        publisher: 'Microsoft.Azure.Security',
        typePropertiesType: os === 'Windows' ? 'AzureDiskEncryption' : 'AzureDiskEncryptionForLinux',
        typeHandlerVersion: os === 'Windows' ? '2.2' : '1.1',
        settings: {
          EncryptionOperation: 'EnableEncryption',
          KeyVaultURL: 'https://migvault1.vault.azure.net',
          KeyVaultResourceId: `/subscriptions/${sub}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/migvault1`,
          VolumeType: volumeType,
        },
      });
    await seed('win-ade', 'Windows');
    await seed('lnx-data', 'Linux');
    await seed('lnx-os', 'Linux');
    await seed('win-old-size', 'Windows', { vmSize: 'Standard_D4s_v3' });
    await seed('plain', 'Windows');
    await seed('excluded', 'Windows', {}, 'rg-excluded');
    await h.control('PUT', '/_sim/arm/skus/standard_d4s_v3', { encryptionAtHostSupported: false });
    await Promise.all([
      ade(RG, 'win-ade', 'Windows', 'All'),
      ade(RG, 'lnx-data', 'Linux', 'Data'),
      ade(RG, 'lnx-os', 'Linux', 'All'),
      ade(RG, 'win-old-size', 'Windows', 'All'),
      ade('rg-excluded', 'excluded', 'Windows', 'All'),
    ]);
    const app = await h.control<{ objectId: string; appId: string; clientSecret: string }>('POST', '/_sim/principals', {
      displayName: 'mig-app',
      roles: [],
    });
    await applyTemplateGrants({ admin, subscriptionId: sub, appPrincipalId: app.objectId, encryptionMode: 'single-pass' });
    appCompute = new ComputeAdapter(new ClientSecretCredential(h.sim.seed.tenantId, app.appId, app.clientSecret), { pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const deps = (now: Date) => ({
    policy: toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: sub, ADE_EXCLUDE_RESOURCE_GROUPS: 'rg-excluded' })),
    compute: appCompute,
    now: () => now,
    log: () => undefined,
  });

  it('lists every ADE VM in scope with its path and reason, the days left from the request time, and the feature state', async () => {
    const now = new Date('2027-09-15T00:00:00Z');
    const answer = await handleMigrationReport(new URLSearchParams(), deps(now));
    expect(answer.status).toBe(200);
    const body = answer.body as {
      daysLeft: number;
      asOf: string;
      vms: MigrationRow[];
      byPath: Record<string, number>;
      subscriptions: unknown;
    };
    expect(body).toMatchObject({ asOf: now.toISOString(), daysLeft: 366, retirementDate: '2028-09-15' });
    const byName = Object.fromEntries(body.vms.map((r) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(['lnx-data', 'lnx-os', 'win-ade', 'win-old-size']);
    expect(byName['win-ade']).toMatchObject({ os: 'Windows', mode: 'single-pass', volumeType: 'All', path: 'windows', kek: null });
    expect(byName['lnx-data']).toMatchObject({ os: 'Linux', volumeType: 'Data', path: 'linux-data' });
    expect(byName['lnx-os']).toMatchObject({ os: 'Linux', volumeType: 'All', path: 'linux-os-rebuild' });
    expect(byName['lnx-os']!.reason).toMatch(/cannot be decrypted/);
    expect(byName['win-old-size']).toMatchObject({ path: 'unsupported-size', sizeSupportsEncryptionAtHost: false });
    expect(body.byPath).toEqual({ windows: 1, 'linux-data': 1, 'linux-os-rebuild': 1, 'unsupported-size': 1 });
    expect(body.subscriptions).toEqual([{ subscriptionId: sub, encryptionAtHostFeature: 'NotRegistered' }]);
  });

  it('?format=csv answers the same rows as CSV; a bad format is a 400 naming the field', async () => {
    const csv = await handleMigrationReport(new URLSearchParams('format=csv'), deps(new Date('2028-09-14T12:00:00Z')));
    expect(csv.status).toBe(200);
    expect(csv.headers?.['content-type']).toMatch(/^text\/csv/);
    const lines = (csv.body as string).trim().split('\r\n');
    expect(lines).toHaveLength(5);
    expect(lines.slice(1).every((l) => l.includes(',1,'))).toBe(true); // one day left
    const bad = await handleMigrationReport(new URLSearchParams('format=xml'), deps(new Date()));
    expect(bad).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^format:/) } });
  });
});
