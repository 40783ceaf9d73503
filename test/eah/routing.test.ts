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
