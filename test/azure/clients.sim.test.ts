/**
 * The credentials createAzurePorts builds, against the simulator. Its own file (own process):
 * MSAL caches the managed-identity source per process, so nothing may build a managed-identity
 * credential before the simulator's IDENTITY_ENDPOINT is in the environment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAzurePorts } from '../../azure/clients';
import { startSimHarness, type SimHarness } from './sim-harness';

describe('credentials against the simulator', () => {
  let h: SimHarness;
  beforeAll(async () => {
    h = await startSimHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('managed-identity mode signs in through the identity endpoint and calls ARM as the managed identity', async () => {
    const ports = createAzurePorts({ auth: { mode: 'managed-identity' } });
    const outcome = await ports.compute.listVms(h.sim.seed.subscriptionId).then(
      () => 'ok',
      (e: { kind?: string }) => e.kind,
    );
    const calls = (await h.requests({ service: 'arm' })).value;
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.principal === h.sim.seed.managedIdentityObjectId)).toBe(true);
    const tokenRequests = (await h.requests({ service: 'identity' })).value;
    expect(tokenRequests.length).toBeGreaterThan(0);
    // The simulated function identity may or may not hold a role on the subscription; either way
    // the answer is a success or a clean PermissionError, never a crash.
    expect(['ok', 'permission']).toContain(outcome);
  });

  it('environment mode without usable credentials fails as a PermissionError naming the cause', async () => {
    const ports = createAzurePorts({ auth: { mode: 'environment' } }, { env: {} });
    const saved = { ...process.env };
    for (const k of ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET']) delete process.env[k];
    try {
      await expect(ports.compute.listVms(h.sim.seed.subscriptionId)).rejects.toMatchObject({ kind: 'permission', retryable: false });
    } finally {
      Object.assign(process.env, saved);
    }
  });
});
