import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assessVm } from '../../core/eligibility';
import { interpretEncryptionState } from '../../core/encryption-state';
import { parseCommonAlert, parseDelivery, type PolicyStateEvent, type ResourceEvent } from '../../core/events';
import { expectedBekSecrets } from '../../core/remediation/bek';
import { decideRemediation, type RemediationInput } from '../../core/remediation/decision';
import { DEFAULT_POLICY_DEFINITION_IDS } from '../../core/remediation/settings';
import { alertTargets, selectArmDriftSignals, selectPolicySignals } from '../../core/remediation/signals';
import type { VmSnapshot } from '../../core/vm';
import { basePolicy, fixture, loadVm, SUB, withExtensionFailure } from './helpers';

function policyEvents(body: unknown): PolicyStateEvent[] {
  const parsed = parseDelivery(body);
  if (!parsed.ok) throw parsed.error;
  return parsed.value.events.map((r) => {
    if (!r.ok || r.value.kind !== 'policy-state') throw new Error('expected policy events');
    return r.value;
  });
}

function policyEvent(
  vm: string,
  timestamp: string,
  complianceState: string,
  definition = 'ca88aadc-6e2b-416c-9de2-5a0f01d1693f',
  eventType = 'Microsoft.PolicyInsights.PolicyStateChanged',
) {
  return {
    id: `${vm}-${timestamp}`,
    topic: `/subscriptions/${SUB}`,
    eventType,
    eventTime: '2026-11-20T12:00:00Z',
    dataVersion: '1',
    metadataVersion: '1',
    subject: `/subscriptions/${SUB}/resourcegroups/rg-app/providers/microsoft.compute/virtualmachines/${vm}`,
    data: {
      timestamp,
      policyAssignmentId: `/subscriptions/${SUB}/providers/microsoft.authorization/policyassignments/ade`,
      policyDefinitionId: `/providers/microsoft.authorization/policydefinitions/${definition}`,
      complianceState,
      subscriptionId: SUB,
    },
  };
}

const vmId = (name: string) => `/subscriptions/${SUB}/resourcegroups/rg-app/providers/microsoft.compute/virtualmachines/${name}`;

describe('selectPolicySignals', () => {
  const defs = [...DEFAULT_POLICY_DEFINITION_IDS];

  it('the shared policy fixture: one NonCompliant VM, the Compliant and Deleted states ignored', () => {
    const events = policyEvents(readFileSync(join(__dirname, '..', 'fixtures', 'events', 'eg-policy-states.json'), 'utf8'));
    const { selected, ignored } = selectPolicySignals(events, defs);
    // p1 NonCompliant 10:58:00, p2 Compliant 10:58:30 and p3 Deleted 10:59:00 are newer for the same VM.
    expect(selected).toEqual([]);
    expect(ignored.map((i) => i.reason)).toEqual([
      expect.stringContaining('stale: superseded'),
      expect.stringContaining('stale: superseded'),
      expect.stringContaining('deleted'),
    ]);
  });

  it.each([
    ['one NonCompliant', [policyEvent('a', '2026-11-20T10:00:00Z', 'NonCompliant')], ['a']],
    ['same event three times → one signal', [1, 2, 3].map(() => policyEvent('a', '2026-11-20T10:00:00Z', 'NonCompliant')), ['a']],
    [
      'Compliant newer than NonCompliant (delivered out of order) → stale',
      [policyEvent('a', '2026-11-20T11:00:00Z', 'Compliant'), policyEvent('a', '2026-11-20T10:00:00Z', 'NonCompliant')],
      [],
    ],
    [
      'NonCompliant newer than Compliant → remediate',
      [policyEvent('a', '2026-11-20T10:00:00Z', 'Compliant'), policyEvent('a', '2026-11-20T11:00:00Z', 'NonCompliant')],
      ['a'],
    ],
    [
      'unconfigured definition ignored',
      [policyEvent('a', '2026-11-20T10:00:00Z', 'NonCompliant', 'fc4d8e41-e223-45ea-9bf5-eada37891d87')],
      [],
    ],
    [
      'definition compared case-insensitively',
      [policyEvent('a', '2026-11-20T10:00:00Z', 'NonCompliant', 'CA88AADC-6E2B-416C-9DE2-5A0F01D1693F')],
      ['a'],
    ],
    [
      'two VMs',
      [policyEvent('a', '2026-11-20T10:00:00Z', 'NonCompliant'), policyEvent('b', '2026-11-20T10:00:00Z', 'noncompliant')],
      ['a', 'b'],
    ],
    [
      'created events count too',
      [policyEvent('a', '2026-11-20T10:00:00Z', 'NonCompliant', undefined, 'Microsoft.PolicyInsights.PolicyStateCreated')],
      ['a'],
    ],
  ])('%s', (_name, raw, expectedVms) => {
    const { selected, ignored } = selectPolicySignals(policyEvents(raw), defs);
    expect(selected.map((s) => s.vmId)).toEqual(expectedVms.map(vmId));
    // Every event is accounted for exactly once: selected, or ignored with a reason.
    expect(selected.length + ignored.length).toBe(raw.length);
    for (const s of selected) expect(s.why).toContain('NonCompliant');
  });

  it('ignores states already handled (lastSeen) and non-VM resources', () => {
    const stale = selectPolicySignals(
      policyEvents([policyEvent('a', '2026-11-20T10:00:00Z', 'NonCompliant')]),
      defs,
      new Map([[vmId('a'), '2026-11-20T10:00:00Z']]),
    );
    expect(stale.selected).toEqual([]);
    expect(stale.ignored[0].reason).toContain('already handled');
    const disk = policyEvent('a', '2026-11-20T10:00:00Z', 'NonCompliant');
    disk.subject = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d1`;
    expect(selectPolicySignals(policyEvents([disk]), defs).ignored[0].reason).toContain('not a virtual machine');
  });
});

describe('alertTargets', () => {
  it('maps VMs and their extensions to VMs once; names why every other target is ignored', () => {
    const parsed = parseCommonAlert(fixture('alert-mixed-targets.json'));
    if (!parsed.ok) throw parsed.error;
    const { selected, ignored } = alertTargets(parsed.value);
    expect(selected.map((s) => s.vmId)).toEqual([
      `/subscriptions/${SUB}/resourcegroups/rg-app-prod/providers/microsoft.compute/virtualmachines/win-enc-01`,
      `/subscriptions/${SUB}/resourcegroups/rg-data-prod/providers/microsoft.compute/virtualmachines/lnx-enc-02`,
    ]);
    expect(ignored.map((i) => i.reason)).toEqual([
      expect.stringContaining('managed disk'),
      expect.stringContaining('Key Vault'),
      expect.stringContaining('scale set'),
      expect.stringContaining('resource group'),
      'not an ARM resource id',
    ]);
  });

  it('a resolved alert starts nothing', () => {
    const body = fixture<{ data: { essentials: Record<string, unknown> } }>('alert-mixed-targets.json');
    body.data.essentials.monitorCondition = 'Resolved';
    const parsed = parseCommonAlert(body);
    if (!parsed.ok) throw parsed.error;
    const { selected, ignored } = alertTargets(parsed.value);
    expect(selected).toEqual([]);
    expect(ignored.every((i) => i.reason.includes('Resolved'))).toBe(true);
  });
});

describe('selectArmDriftSignals', () => {
  it('ADE extension deletes → VM re-checks (once per VM); managed vault writes → vault re-checks', () => {
    const parsed = parseDelivery(fixture('arm-drift-events.json'));
    if (!parsed.ok) throw parsed.error;
    const events = parsed.value.events.map((r) => (r.ok ? r.value : undefined)).filter((e): e is ResourceEvent => e?.kind === 'resource');
    const { selected, ignored } = selectArmDriftSignals(events, basePolicy());
    expect(selected.map((s) => ('vmId' in s ? s.vmId : s.vaultId))).toEqual([
      `/subscriptions/${SUB}/resourcegroups/rg-app-prod/providers/microsoft.compute/virtualmachines/win-enc-01`,
      `/subscriptions/${SUB}/resourcegroups/rg-data-prod/providers/microsoft.compute/virtualmachines/lnx-enc-02`,
      `/subscriptions/${SUB}/resourcegroups/rg-ade-autopilot-vaults/providers/microsoft.keyvault/vaults/adeap-weu-0123456789abcd`,
    ]);
    expect(ignored.map((i) => i.reason)).toEqual([
      expect.stringContaining('"MicrosoftMonitoringAgent" is not the ADE extension'),
      expect.stringContaining('not one of this app'),
      expect.stringContaining('is not a drift signal'),
    ]);
  });
});

describe('decideRemediation', () => {
  const policy = basePolicy();
  const win = loadVm('win-sp-encrypted');
  const plain = loadVm('win-sp-encrypted');
  plain.extensions = [];
  plain.instanceView!.extensions = [];
  plain.instanceView!.disks = [{ name: plain.osDisk.name, statuses: [{ code: 'ProvisioningState/succeeded' }] }];

  const atHost = basePolicy({ ADE_ENCRYPTION_MODE: 'encryption-at-host' });
  function inputOf(vm: VmSnapshot, extra: Partial<RemediationInput> = {}, withPolicy = policy): RemediationInput {
    const ext = vm.extensions.find((e) => e.type.startsWith('AzureDiskEncryption'));
    const view = vm.instanceView?.extensions?.find((e) => e.name === ext?.name);
    const state = interpretEncryptionState({
      os: vm.osType,
      ...(view ? { extension: view } : {}),
      disks: vm.instanceView?.disks ?? [],
      osDiskName: vm.osDisk.name,
    });
    return {
      assessment: assessVm(vm, withPolicy),
      state: { kind: state.kind, ...('message' in state ? { message: state.message } : {}) },
      hasAdeExtension: ext !== undefined,
      ...extra,
    };
  }
  const ref = expectedBekSecrets(win)[0];
  const removed = structuredClone(win);
  removed.extensions = [];
  removed.instanceView!.extensions = [];
  const inProgress = structuredClone(plain);
  inProgress.extensions = [
    {
      name: 'AzureDiskEncryption',
      publisher: 'Microsoft.Azure.Security',
      type: 'AzureDiskEncryption',
      typeHandlerVersion: '2.2',
      provisioningState: 'Creating',
    },
  ];
  inProgress.instanceView!.extensions = [
    { name: 'AzureDiskEncryption', statuses: [{ code: 'ProvisioningState/transitioning', displayStatus: 'Transitioning' }] },
  ];
  const excluded = structuredClone(plain);
  excluded.tags = { 'ade-autopilot': 'skip' };
  // A dual-pass (aad, 1.1) run that encrypted the guest but whose model PATCH never landed.
  const dualNoModel = structuredClone(win);
  dualNoModel.extensions = dualNoModel.extensions.map((e) =>
    e.type.startsWith('AzureDiskEncryption') ? { ...e, typeHandlerVersion: '1.1' } : e,
  );
  delete dualNoModel.osDisk.encryptionSettings;
  const dualWithModel = structuredClone(dualNoModel);
  dualWithModel.osDisk.encryptionSettings = {
    enabled: true,
    diskEncryptionKey: {
      secretUrl: 'https://v.vault.azure.net/secrets/s/0123',
      sourceVault: { id: '/subscriptions/x/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v' },
    },
  };

  it.each([
    ['unencrypted → encrypt', inputOf(plain), 'encrypt'],
    ['unencrypted with an encryption running → nothing', inputOf(inProgress), 'nothing'],
    ['excluded by tag → nothing', inputOf(excluded), 'nothing'],
    ['encrypted and healthy → nothing', inputOf(win, { secrets: [{ ref, secret: 'present', kek: 'present' }], vaultDrift: [] }), 'nothing'],
    ['BEK missing → restore', inputOf(withExtensionFailure(win, 'BEK file not found')), 'restore'],
    ['secret soft-deleted → restore', inputOf(win, { secrets: [{ ref, secret: 'soft-deleted', kek: 'present' }] }), 'restore'],
    ['KEK soft-deleted → restore', inputOf(win, { secrets: [{ ref, secret: 'present', kek: 'soft-deleted' }] }), 'restore'],
    [
      'vault flag off → repair-vault',
      inputOf(win, { vaultDrift: [{ kind: 'disk-encryption-disabled', detail: 'vault x: flag off', repairable: true }] }),
      'repair-vault',
    ],
    [
      'vault on RBAC → nothing, operator named',
      inputOf(win, { vaultDrift: [{ kind: 'rbac-authorization', detail: 'vault x: rbac', repairable: false }] }),
      'nothing',
    ],
    ['extension removed from an encrypted VM → redeploy', inputOf(removed), 'redeploy-extension'],
    [
      'dual-pass encrypted in the guest, model without encryptionSettings → apply-model-settings',
      inputOf(dualNoModel),
      'apply-model-settings',
    ],
    ['dual-pass with model encryptionSettings → nothing', inputOf(dualWithModel), 'nothing'],
    [
      'restore wins over vault drift and a removed extension',
      inputOf(removed, {
        secrets: [{ ref, secret: 'soft-deleted' }],
        vaultDrift: [{ kind: 'disk-encryption-disabled', detail: 'x', repairable: true }],
      }),
      'restore',
    ],
    ['encryption-at-host mode: unencrypted → encrypt (at host)', inputOf(plain, {}, atHost), 'encrypt'],
    [
      'encryption-at-host mode: a healthy ADE VM → nothing (refused)',
      inputOf(win, { secrets: [{ ref, secret: 'present' }] }, atHost),
      'nothing',
    ],
    [
      'encryption-at-host mode: an ADE VM with its BEK missing → restore',
      inputOf(withExtensionFailure(win, 'BEK file not found'), {}, atHost),
      'restore',
    ],
    ['encryption-at-host mode: an ADE VM whose extension was removed → nothing (not redeployed)', inputOf(removed, {}, atHost), 'nothing'],
  ])('%s', (_name, input, action) => {
    const decision = decideRemediation(input);
    expect(decision.action).toBe(action);
    expect(decision.reason.length).toBeGreaterThan(10);
  });
});
