/**
 * Which orchestration encrypts a VM: the assessment's mode picks it (encryptionOrchestratorFor), and each orchestration
 * refuses a run of the other mode instead of carrying a branch for it. Driven without a host over the fake Azure.
 */
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../orchestrations/activities';
import {
  encryptionOrchestratorFor,
  ENCRYPT_AT_HOST_ORCHESTRATOR,
  ENCRYPT_VM_ORCHESTRATOR,
  type EncryptAtHostOutput,
  type EncryptVmOutput,
} from '../../orchestrations/contracts';
import { encryptAtHostOrchestrator } from '../../orchestrations/encrypt-at-host';
import { createEncryptAtHostActivities } from '../../orchestrations/encrypt-at-host-activities';
import { encryptVmOrchestrator } from '../../orchestrations/encrypt-vm';
import { Driver } from '../remediation/driver';
import { FakeAzure } from '../remediation/fake-azure';
import { basePolicy, fixture } from '../remediation/helpers';
import type { VmSnapshot } from '../../core/vm';
import { vmViews, type RunRecord } from '../../core/fleet-status';
import { orchestrationInstanceId } from '../../core/names';

const ADE = basePolicy({ ADE_ENCRYPTION_MODE: 'single-pass' });
const AT_HOST = basePolicy({ ADE_ENCRYPTION_MODE: 'encryption-at-host' });

describe('encryptionOrchestratorFor', () => {
  it.each([
    ['aad', ENCRYPT_VM_ORCHESTRATOR],
    ['single-pass', ENCRYPT_VM_ORCHESTRATOR],
    ['encryption-at-host', ENCRYPT_AT_HOST_ORCHESTRATOR],
  ] as const)('%s → %s', (mode, orchestrator) => {
    expect(encryptionOrchestratorFor(mode)).toBe(orchestrator);
  });
});

describe('each orchestration refuses the other mode, judged by the app’s own policy', () => {
  const plain = (): VmSnapshot => {
    const vm = fixture<VmSnapshot>('vms/win-sp-encrypted.json');
    vm.extensions = [];
    vm.instanceView!.extensions = [];
    vm.instanceView!.disks = [{ name: vm.osDisk.name, statuses: [{ code: 'ProvisioningState/succeeded' }] }];
    return vm;
  };

  it.each([
    { run: ENCRYPT_VM_ORCHESTRATOR, appPolicy: AT_HOST, reason: /encryptAtHost orchestration does this/ },
    { run: ENCRYPT_AT_HOST_ORCHESTRATOR, appPolicy: ADE, reason: /encryptVm orchestration does this/ },
  ])('$run started while the app runs another mode → skipped, nothing written', async ({ run, appPolicy, reason }) => {
    const azure = new FakeAzure();
    const vm = plain();
    azure.addVm(vm);
    const log = () => undefined;
    const driver = new Driver({
      orchestrators: { encryptVm: encryptVmOrchestrator as never, encryptAtHost: encryptAtHostOrchestrator as never },
      activities: {
        ...createActivities({
          compute: azure.compute,
          vaults: azure.vaultManagement,
          keyVault: azure.keyVault,
          directory: {} as never,
          eventSubscriptions: {} as never,
          identity: async () => ({ tenantId: 't', objectId: 'o' }),
          log,
          now: () => Date.now(),
          policy: appPolicy,
        }),
        ...createEncryptAtHostActivities({ compute: azure.compute, log, policy: appPolicy }),
      } as unknown as Record<string, (input: unknown) => Promise<unknown>>,
    });
    // The run's input claims the other mode; the activities judge by the app's policy.
    const inputPolicy = appPolicy === ADE ? AT_HOST : ADE;
    const output = (await driver.run(run, { vmId: vm.id, policy: inputPolicy })) as EncryptVmOutput | EncryptAtHostOutput;
    expect(output.outcome).toBe('skipped');
    expect(output.reason).toMatch(reason);
    expect(driver.activityCalls.map((c) => c.name)).toEqual([run === ENCRYPT_VM_ORCHESTRATOR ? 'inspectVm' : 'encryptAtHostInspect']);
  });
});

describe('the status API shows encryptAtHost runs as the VM’s encryption runs', () => {
  const vmId =
    '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/eah-01';
  const run = (outcome: string, reason: string): RunRecord => ({
    instanceId: orchestrationInstanceId(vmId),
    name: ENCRYPT_AT_HOST_ORCHESTRATOR,
    runtimeStatus: 'Completed',
    customStatus: { orchestration: ENCRYPT_AT_HOST_ORCHESTRATOR, vmId, phase: 'done' },
    output: { vmId, outcome, reason, steps: [] },
    createdTime: '2026-12-02T10:00:00Z',
    lastUpdatedTime: '2026-12-02T10:05:00Z',
  });
  it.each([
    { outcome: 'encrypted', reason: 'encrypted at host (verified from the VM model; power state running)', state: 'encrypted' },
    { outcome: 'already-encrypted', reason: 'Already encrypted at host (securityProfile.encryptionAtHost).', state: 'encrypted' },
    { outcome: 'action-required', reason: 'Encryption at host needs the VM deallocated', state: 'failed' },
    { outcome: 'skipped', reason: 'Unsupported: the VM has, or once had, Azure Disk Encryption', state: 'skipped' },
  ])('$outcome → $state', ({ outcome, reason, state }) => {
    const [view] = vmViews([run(outcome, reason)]);
    expect(view).toMatchObject({ vmId, state, mode: 'encryption-at-host' });
    if (state === 'failed') expect(view!.lastError?.nextStep).toContain('POST /api/vms/encrypt');
  });
});
