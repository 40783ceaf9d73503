import { describe, expect, it } from 'vitest';
import { isVaultGroupRolesMissing, vaultGroupRolesNextStep } from '../../core/remediation/vault-drift';
import { basePolicy } from './helpers';

describe('vault group roles missing in a subscription', () => {
  it.each([
    [{ kind: 'permission', code: 'AuthorizationFailed' }, true],
    // Key Vault's data plane (an access policy missing) is not the vault group's Resource Manager roles.
    [{ kind: 'permission', code: 'Forbidden' }, false],
    [{ kind: 'permission', code: 'LinkedAuthorizationFailed' }, false],
    [{ kind: 'permission' }, false],
    [{ kind: 'transient', code: 'AuthorizationFailed' }, false],
    [{ kind: 'not-found', code: 'ResourceGroupNotFound' }, false],
  ])('%j → %s', (failure, expected) => {
    expect(isVaultGroupRolesMissing(failure)).toBe(expected);
  });

  it.each([
    [undefined, 'the next sweep or VM write then encrypts the VM'],
    ['VM', 'the next sweep or VM write then encrypts the VM'],
    ['scale set', 'the next sweep or scale set write then encrypts the scale set'],
  ] as const)('names the subscription, the vault group, both roles and the deployment that grants them (%s)', (target, retry) => {
    const sub = '11111111-2222-3333-4444-555555555555';
    const policy = basePolicy();
    const step = vaultGroupRolesNextStep(sub, policy, target);
    expect(step.endsWith(retry)).toBe(true);
    expect(step).toContain(`/subscriptions/${sub}/resourceGroups/${policy.vault.resourceGroup}`);
    expect(step).toContain(`add ${sub} to targetSubscriptionIds`);
    for (const part of ['Key Vault Contributor', 'EventGrid Contributor', 'infra/deploy.sh', 'az deployment sub create', 'infra/main.json'])
      expect(step).toContain(part);
  });
});
