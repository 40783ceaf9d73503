// host.json `overridableExistingInstanceStates`: which existing instance a start with the same id may replace, as the Durable
// extension's OverridableStates setting decides. NonRunningStates (refusal while running) is client-api.test.ts, whose app
// sets it; one app per process, so this file runs the same app with the setting removed.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { overridableStatesOf } from '../../../local/host/durable/engine';
import { startHarness, type Harness } from './harness';

const appDir = path.resolve(__dirname, '../../apps/durable-basic');
let h: Harness | undefined;
afterAll(async () => {
  await h?.stop();
});

async function waitForStatus(harness: Harness, id: string, status: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (harness.engine.dispatcher.getInstance(id)?.status === status) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`instance ${id} never reached ${status}`);
}

describe('overridableExistingInstanceStates', () => {
  it.each([
    [undefined, 'AnyState'],
    ['AnyState', 'AnyState'],
    ['NonRunningStates', 'NonRunningStates'],
    ['nonrunningstates', 'NonRunningStates'],
    [1, 'NonRunningStates'],
    [0, 'AnyState'],
  ])('reads %j as %s', (value, expected) => {
    expect(overridableStatesOf(value === undefined ? {} : { overridableExistingInstanceStates: value })).toBe(expected);
  });

  it.each([['Running'], [2], [true]])('refuses %j, naming the setting', (value) => {
    expect(() => overridableStatesOf({ overridableExistingInstanceStates: value })).toThrow(/overridableExistingInstanceStates/);
  });

  it('AnyState (the unset default): a second start replaces the running instance', async () => {
    h = await startHarness(appDir, { durableTask: { hubName: 'H' } });
    h.engine.dispatcher.startOrchestration({ name: 'WaitForever', instanceId: 'one', input: null });
    await waitForStatus(h, 'one', 'Running');
    h.engine.dispatcher.startOrchestration({ name: 'Sequence', instanceId: 'one', input: null });
    expect((await h.waitFor('one')).status).toBe('Completed');
    expect(h.engine.dispatcher.getInstance('one')?.name).toBe('Sequence');
  });
});
