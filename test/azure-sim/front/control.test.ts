import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../../local/azure-sim/index';
import type { RequestCounts } from '../../../local/azure-sim/front/request-log';
import { control, createPrincipal, createTestVault, startSimForTest } from './sim-helpers';

let sim: Simulator;
let secrets: SecretClient;
const VAULT = 'kvcontrol01';

beforeAll(async () => {
  sim = await startSimForTest();
  await createTestVault(sim, VAULT);
  secrets = new SecretClient(
    `https://${VAULT}.vault.azure.net`,
    new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret),
  );
  await secrets.setSecret('probe', 'v');
});
afterAll(async () => {
  await sim?.stop();
});

describe('fault injection', () => {
  it('fails the next N matching requests; the SDK retries through them', async () => {
    const rule = await control<{ id: string }>(sim, 'POST', '/_sim/faults', {
      service: 'keyvault',
      operation: 'SecretGet',
      status: 503,
      failNext: 2,
      retryAfterSeconds: 0,
    });
    expect(rule.status).toBe(201);
    const before = (await control<{ lastSeq: number }>(sim, 'GET', '/_sim/requests?limit=1')).body.lastSeq;
    expect((await secrets.getSecret('probe')).value).toBe('v');
    const log = await control<{ value: { status: number; fault?: boolean; operation: string }[] }>(
      sim,
      'GET',
      `/_sim/requests?since=${before}&service=keyvault`,
    );
    expect(log.body.value.map((e) => [e.status, Boolean(e.fault)])).toEqual([
      [503, true],
      [503, true],
      [200, false],
    ]);
    const listed = await control<{ value: { id: string; failed: number; failNext: number }[] }>(sim, 'GET', '/_sim/faults');
    expect(listed.body.value.find((r) => r.id === rule.body.id)).toMatchObject({ failed: 2, failNext: 0 });
    expect((await control(sim, 'DELETE', `/_sim/faults/${rule.body.id}`)).status).toBe(204);
  });

  it('a non-retryable injected status reaches the caller with the service envelope', async () => {
    await control(sim, 'POST', '/_sim/faults', {
      service: 'keyvault',
      operation: 'Secret*',
      status: 400,
      errorRate: 1,
      code: 'BadParameter',
      message: 'injected',
    });
    await expect(secrets.getSecret('probe')).rejects.toMatchObject({ statusCode: 400, code: 'BadParameter', message: 'injected' });
    await control(sim, 'DELETE', '/_sim/faults');
    expect((await secrets.getSecret('probe')).value).toBe('v');
  });

  it('adds latency to matching requests', async () => {
    await control(sim, 'POST', '/_sim/faults', { service: 'keyvault', operation: 'SecretGet', latencyMs: 300 });
    const started = Date.now();
    await secrets.getSecret('probe');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    await control(sim, 'DELETE', '/_sim/faults');
  });

  it.each([
    ['reset', 0],
    ['timeout', 300],
  ])('connection %s: no answer, the connection closes (after hangMs); the SDK retries through it', async (connection, hangMs) => {
    await control(sim, 'POST', '/_sim/faults', {
      service: 'keyvault',
      operation: 'SecretGet',
      status: 500,
      failNext: 1,
      connection,
      hangMs,
    });
    const started = Date.now();
    expect((await secrets.getSecret('probe')).value).toBe('v');
    expect(Date.now() - started).toBeGreaterThanOrEqual(hangMs);
    const listed = await control<{ value: { failed: number; connection?: string }[] }>(sim, 'GET', '/_sim/faults');
    expect(listed.body.value).toEqual([expect.objectContaining({ connection, failed: 1 })]);
    await control(sim, 'DELETE', '/_sim/faults');
  });

  it('a rule naming a principal fails only that principal’s requests', async () => {
    const other = await createPrincipal(sim, 'fault-bystander', { roles: [] });
    await control(sim, 'POST', '/_sim/faults', {
      service: 'keyvault',
      principal: other.objectId,
      status: 503,
      errorRate: 1,
      retryAfterSeconds: 0,
    });
    // The seeded client is not that principal: unaffected.
    expect((await secrets.getSecret('probe')).value).toBe('v');
    const listed = await control<{ value: { matched: number }[] }>(sim, 'GET', '/_sim/faults');
    expect(listed.body.value[0]!.matched).toBe(0);
    await control(sim, 'DELETE', '/_sim/faults');
  });

  it.each([
    [{ status: 500, failNext: 1, connection: 'hang' }, /connection must be 'reset' or 'timeout'/],
    [{ status: 200, failNext: 1 }, /status must be an HTTP error status/],
    [{ errorRate: 2 }, /errorRate must be between 0 and 1/],
    [{ service: 'arm' }, /needs errorRate, failNext or latencyMs/],
  ])('rejects an invalid rule %j', async (rule, message) => {
    const res = await control<{ error: { message: string } }>(sim, 'POST', '/_sim/faults', rule);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
  });
});

describe('request log counts', () => {
  it('counts per service, operation and principal', async () => {
    const before = (await control<RequestCounts>(sim, 'GET', '/_sim/requests/counts')).body;
    for (let i = 0; i < 3; i++) await secrets.getSecret('probe');
    const after = (await control<RequestCounts>(sim, 'GET', '/_sim/requests/counts')).body;
    const count = (c: RequestCounts) => c.detailed.keyvault?.SecretGet?.[sim.seed.clientObjectId] ?? 0;
    expect(count(after) - count(before)).toBe(3);
    expect((after.byService.keyvault ?? 0) - (before.byService.keyvault ?? 0)).toBe(3);
  });
});

describe('time, snapshot, restore and reset', () => {
  it('reports real time and offers no route that moves it', async () => {
    const time = (await control<{ now: string; nowMs: number; speed: number }>(sim, 'GET', '/_sim/time')).body;
    expect(Math.abs(time.nowMs - Date.now())).toBeLessThan(2_000);
    expect(Date.parse(time.now)).toBe(time.nowMs);
    expect(time.speed).toBe(sim.ctx.clock.speed);
    for (const [method, path, body] of [
      ['POST', '/_sim/time/advance', { ms: 3_600_000 }],
      ['PUT', '/_sim/time', { scale: 50 }],
      ['POST', '/_sim/time', { scale: 50 }],
    ] as const) {
      expect((await control(sim, method, path, body)).status, `${method} ${path}`).toBe(404);
    }
    expect(Math.abs(sim.ctx.clock.now() - Date.now())).toBeLessThan(50);
  });

  it('restores a snapshot and resets to the seeded state', async () => {
    const snapshot = (await control<Record<string, unknown>>(sim, 'POST', '/_sim/state/snapshot')).body;
    expect(Object.keys(snapshot)).toEqual(expect.arrayContaining(['entra', 'keyvault']));
    await secrets.setSecret('after-snapshot', 'x');
    const sp = await createPrincipal(sim, 'after-snapshot-sp');
    expect((await control(sim, 'POST', '/_sim/state/restore', snapshot)).status).toBe(200);
    await expect(secrets.getSecret('after-snapshot')).rejects.toMatchObject({ statusCode: 404 });
    await expect(
      new ClientSecretCredential(sim.seed.tenantId, sp.appId, sp.clientSecret).getToken('https://vault.azure.net/.default'),
    ).rejects.toThrow(/AADSTS700016/);
    expect((await control(sim, 'POST', '/_sim/state/reset')).status).toBe(200);
    // The seeded principal survives a reset with the same secret.
    const token = await new ClientSecretCredential(sim.seed.tenantId, sim.seed.clientId, sim.seed.clientSecret).getToken(
      'https://vault.azure.net/.default',
    );
    expect(token.token).toBeTruthy();
    const principals = (await control<{ value: { displayName: string }[] }>(sim, 'GET', '/_sim/principals')).body.value.map(
      (p) => p.displayName,
    );
    expect(principals).not.toContain('after-snapshot-sp');
    expect(principals).toContain('ade-autopilot-automation');
  });
});
