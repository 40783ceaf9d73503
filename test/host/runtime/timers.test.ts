// Timer triggers on the host's clock (real time): %Setting% schedules, runOnStartup, past-due catch-up from the
// persisted schedule status, and a run that outlasts its interval.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../../local/host/index';

const appDir = path.resolve(__dirname, '../../apps/runtime-timers');
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'timers-state-'));
const missedNext = '2020-01-01T01:00:00.000Z';
let host: Host;
type Run = { name: string; isPastDue: boolean; status: { last: string; next: string } | null; at: number };
const runs = (name: string): Run[] => ((globalThis as any).__timerRuns as Run[]).filter((r) => r.name === name);

beforeAll(async () => {
  // A status saved by an earlier host whose next occurrence has passed: the host must catch up (IsPastDue).
  fs.writeFileSync(
    path.join(stateDir, 'timers.json'),
    JSON.stringify({
      hourly: { last: '2020-01-01T00:00:00.000Z', next: missedNext, lastUpdated: '2020-01-01T00:00:00.000Z' },
    }),
  );
  host = await startHost({ appDir, port: 0, stateDir, keys: false, env: { EVERY_SECOND: '*/1 * * * * *' } });
  await new Promise((r) => setTimeout(r, 3_700));
});
afterAll(async () => {
  await host?.stop();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

describe('timer triggers', () => {
  it('resolves %Setting% schedules', () => {
    expect(host.timers).toMatchObject({ everySecond: '*/1 * * * * *', onStartup: '0 0 0 1 1 *' });
  });

  it('fires a six-field schedule on real time', () => {
    const fired = runs('everySecond');
    expect(fired.length).toBeGreaterThanOrEqual(3);
    expect(fired.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < fired.length; i++) expect(fired[i].at - fired[i - 1].at).toBeGreaterThanOrEqual(900);
    expect(fired[0].status).toBeNull();
    expect(fired.at(-1)!.status).not.toBeNull();
  });

  it('runs runOnStartup functions once at start, not past due', () => {
    expect(runs('onStartup')).toHaveLength(1);
    expect(runs('onStartup')[0].isPastDue).toBe(false);
  });

  it('catches up a missed occurrence with IsPastDue and the saved schedule status, then persists the new status', () => {
    const hourly = runs('hourly');
    expect(hourly).toHaveLength(1);
    expect(hourly[0]).toMatchObject({ isPastDue: true, status: { next: missedNext } });
    const saved = JSON.parse(fs.readFileSync(path.join(stateDir, 'timers.json'), 'utf8'));
    expect(Date.parse(saved.hourly.next)).toBeGreaterThan(Date.now());
    expect(Date.parse(saved.hourly.last)).toBeGreaterThan(Date.parse(missedNext));
  });

  it('never overlaps runs of one timer and flags a run that starts late as past due', () => {
    const slow = runs('slow');
    expect(slow.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < slow.length; i++) expect(slow[i].at - slow[i - 1].at).toBeGreaterThanOrEqual(1_190);
    expect(slow.slice(1).some((r) => r.isPastDue)).toBe(true);
  });

  it('fires a timer by hand through the programmatic API', async () => {
    const before = runs('hourly').length;
    await host.fireTimer('hourly');
    expect(runs('hourly').length).toBe(before + 1);
    await expect(host.fireTimer('nope')).rejects.toThrow("'nope' is not a timer function");
  });
});
