/**
 * Dry run (ADE_DRY_RUN=true, single-pass, no KEK): VM writes are assessed and the plan is logged,
 * but nothing starts and nothing is created in Azure; the HTTP starter answers with the plan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from './harness';
import { appRequests, armWrites } from './checks';

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline({ mode: 'single-pass', kek: false, settings: { ADE_DRY_RUN: 'true' } });
}, 180_000);
afterAll(async () => {
  await p?.stop();
});

async function settle(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('dry run', () => {
  it('logs the plan for new VMs and starts nothing', async () => {
    const windows = await p.createVm('dry-win', { os: 'Windows' });
    const skipped = await p.createVm('dry-skip', { os: 'Linux', tags: { 'ade-autopilot': 'skip' } });
    const planned = () => p.host.logs.filter((l) => /dry run, nothing started/.test(String(l.message)));
    await settle(() => planned().some((l) => String(l.message).includes(windows)));
    await settle(() =>
      p.host.logs.some((l) => String(l.message).includes(skipped) && /Skipped: The VM carries the exclusion tag/.test(String(l.message))),
    );
    expect(planned().some((l) => String(l.message).includes(skipped))).toBe(false);
    expect(await p.listInstances()).toEqual([]);
    const writes = armWrites(await appRequests(p));
    expect(writes).toEqual([]);
    const vaults = await p.control<{ vaults: number }>('GET', '/_sim/arm');
    expect(vaults.vaults).toBe(0);
  }, 60_000);

  it('HTTP starter returns the plan with 200 and starts nothing', async () => {
    const vmId = await p.createVm('dry-http', { os: 'Windows' });
    const res = await p.host.fetch(`/api/vms/encrypt?code=${p.host.keys!.function}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vmId }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ dryRun: true, vmId, decision: 'encrypt' });
    expect(await p.listInstances()).toEqual([]);
  }, 60_000);
});
