// Durability: the real CLI is SIGKILLed mid-flight and restarted on the same --state; every orchestration
// resumes, completed activities are not lost, an activity that was running when the host died runs again.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnHost, type HostProcess } from './cli-process';

const appDir = path.resolve(__dirname, '../../apps/durable-crash');
let workDir: string;
let host: HostProcess | undefined;

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-crash-'));
});
afterAll(async () => {
  await host?.kill();
  fs.rmSync(workDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(host!.baseUrl + url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function journal(file: string): { kind: string; id: string; step: number; pid: number }[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [kind, id, step, pid] = l.split(' ');
      return { kind, id, step: Number(step), pid: Number(pid) };
    });
}

async function waitAll(ids: string[], timeoutMs: number): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  const out: Record<string, any> = {};
  for (const id of ids) {
    for (;;) {
      const s = await api('GET', `/runtime/webhooks/durabletask/instances/${id}`);
      if (s.status === 200) {
        out[id] = s.body;
        break;
      }
      if (Date.now() > deadline) throw new Error(`${id} still ${s.body?.runtimeStatus} after restart\n${host!.stderr().slice(-2000)}`);
      await sleep(50);
    }
  }
  return out;
}

describe('crash and restart (SIGKILL)', () => {
  it('resumes chains, timers and event waits; re-runs the activity that was in flight', async () => {
    const stateDir = path.join(workDir, 'state');
    const journalFile = path.join(workDir, 'journal.log');
    const args = ['--app', appDir, '--port', '0', '--state', stateDir, '--no-keys'];
    const env = { CRASH_JOURNAL: journalFile };
    host = await spawnHost(args, env);

    const chains = ['chain-1', 'chain-2', 'chain-3', 'chain-4'];
    for (const id of chains) expect((await api('POST', `/runtime/webhooks/durabletask/orchestrators/Chain/${id}`)).status).toBe(202);
    expect((await api('POST', '/runtime/webhooks/durabletask/orchestrators/Sleeper/sleeper')).status).toBe(202);
    expect((await api('POST', '/runtime/webhooks/durabletask/orchestrators/Waiter/waiter')).status).toBe(202);

    // Kill while activities are running: wait until some steps finished and some are in flight.
    const firstPid = host.child.pid!;
    for (let i = 0; i < 200; i++) {
      const j = journal(journalFile);
      const ends = j.filter((e) => e.kind === 'end').length;
      const starts = j.filter((e) => e.kind === 'start').length;
      if (ends >= 6 && starts > ends) break;
      await sleep(10);
    }
    await host.kill('SIGKILL');
    const beforeKill = journal(journalFile);
    const inFlight = beforeKill.filter(
      (e) => e.kind === 'start' && !beforeKill.some((x) => x.kind === 'end' && x.id === e.id && x.step === e.step),
    );
    expect(beforeKill.some((e) => e.kind === 'end')).toBe(true);
    expect(inFlight.length).toBeGreaterThan(0);

    // The Sleeper's 3-second timer and the Waiter are pending across the restart.
    host = await spawnHost(args, env);
    expect((await api('POST', '/runtime/webhooks/durabletask/instances/waiter/raiseEvent/Go', 'after restart')).status).toBe(202);
    const results = await waitAll([...chains, 'sleeper', 'waiter'], 40_000);

    for (const id of chains) {
      expect(results[id]).toMatchObject({ runtimeStatus: 'Completed', output: [10, 20, 30, 40, 50, 60] });
    }
    expect(results.sleeper).toMatchObject({ runtimeStatus: 'Completed', output: 10 });
    expect(results.waiter).toMatchObject({ runtimeStatus: 'Completed', output: { got: 'after restart' } });

    const all = journal(journalFile);
    const secondRun = all.filter((e) => e.pid !== firstPid);
    // At-least-once: every activity that was in flight at the kill started again in the new process.
    for (const e of inFlight) {
      expect(secondRun.some((x) => x.kind === 'start' && x.id === e.id && x.step === e.step)).toBe(true);
    }
    // No completed work is lost: a step whose completion was committed before the kill is not re-run. Steps whose
    // end was journaled but whose commit raced the kill may run again, so allow at most one re-run per chain.
    for (const id of chains) {
      const rerunSteps = new Set(secondRun.filter((x) => x.kind === 'start' && x.id === id).map((x) => x.step));
      const doneBefore = beforeKill.filter((x) => x.kind === 'end' && x.id === id).map((x) => x.step);
      const rerunOfFinished = doneBefore.filter((s) => rerunSteps.has(s));
      expect(rerunOfFinished.length).toBeLessThanOrEqual(1);
    }
    // History timestamps never go backwards across the restart (one real clock).
    for (const id of [...chains, 'sleeper']) {
      const h = await api('GET', `/runtime/webhooks/durabletask/instances/${id}?showHistory=true`);
      const times = h.body.historyEvents.map((e: any) => Date.parse(e.Timestamp));
      expect(times).toEqual([...times].sort((a: number, b: number) => a - b));
    }
    // Exactly one successful execution is recorded per step in the final history.
    const status = await api('GET', '/runtime/webhooks/durabletask/instances/chain-1?showHistory=true');
    const completions = status.body.historyEvents.filter((e: any) => e.EventType === 'TaskCompleted');
    expect(completions).toHaveLength(6);
  });
});
