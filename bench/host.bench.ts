// Durable engine benchmark on the real CLI: 1,000 orchestrations (3 chained activities + a fan-out of 10),
// started at once over the Durable HTTP API. Prints orchestrations/s, activities/s, p50/p99 start-to-completion,
// the host's peak RSS and the store size, and writes them to bench/results/host.json (BENCH_OUT=FILE elsewhere).
// Run: npx vitest bench --run bench/host.bench.ts   (BENCH_ORCHESTRATIONS=N to change the count; npm run bench:smoke: 20)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { repoRoot, spawnHost, type HostProcess } from '../test/host/durable/cli-process';

const COUNT = Number(process.env.BENCH_ORCHESTRATIONS ?? 1000);
const ACTIVITIES_PER_ORCHESTRATION = 13;
const OUT = path.resolve(repoRoot, process.env.BENCH_OUT ?? 'bench/results/host.json');
const appDir = path.join(repoRoot, 'test/apps/durable-bench');
let host: HostProcess;
let stateDir: string;

beforeAll(async () => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-bench-'));
  host = await spawnHost(['--app', appDir, '--port', '0', '--state', stateDir, '--no-keys', '--log-level', 'warning']);
}, 180_000);
afterAll(async () => {
  await host?.kill('SIGTERM');
  fs.rmSync(stateDir, { recursive: true, force: true });
});

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}
function dirSizeMb(dir: string): number {
  return Math.round((fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0) / 1024 / 1024) * 10) / 10;
}
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

describe('local host durable engine', () => {
  bench(
    `${COUNT} orchestrations × (3 chained + fan-out of 10) activities`,
    async () => {
      const base = `${host.baseUrl}/runtime/webhooks/durabletask`;
      const runId = Date.now().toString(36);
      const t0 = Date.now();
      const ids = await Promise.all(
        Array.from({ length: COUNT }, async (_, i) => {
          const res = await fetch(`${base}/orchestrators/Bench/${runId}-${i}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: String(i),
          });
          if (res.status !== 202) throw new Error(`start ${i}: HTTP ${res.status} ${await res.text()}`);
          return `${runId}-${i}`;
        }),
      );
      const startedMs = Date.now() - t0;
      for (;;) {
        const res = await fetch(`${base}/instances/?instanceIdPrefix=${runId}-&runtimeStatus=Pending,Running&top=1`);
        const pending = (await res.json()) as unknown[];
        if (pending.length === 0) break;
        if (Date.now() - t0 > 300_000) throw new Error('benchmark did not finish in 5 minutes');
        await new Promise((r) => setTimeout(r, 100));
      }
      const totalMs = Date.now() - t0;

      // Start-to-completion per instance from its own history timestamps (ms precision).
      const latencies: number[] = [];
      let failed = 0;
      for (let i = 0; i < ids.length; i += 50) {
        await Promise.all(
          ids.slice(i, i + 50).map(async (id) => {
            const s = (await (await fetch(`${base}/instances/${id}?showHistory=true`)).json()) as any;
            if (s.runtimeStatus !== 'Completed') failed++;
            const started = s.historyEvents.find((e: any) => e.EventType === 'ExecutionStarted');
            const completed = s.historyEvents.find((e: any) => e.EventType === 'ExecutionCompleted');
            latencies.push(Date.parse(completed.Timestamp) - Date.parse(started.Timestamp));
          }),
        );
      }
      latencies.sort((a, b) => a - b);
      const figures = {
        orchestrations: COUNT,
        failed,
        cpus: os.cpus().length,
        startAllMs: startedMs,
        totalSeconds: Math.round(totalMs / 100) / 10,
        orchestrationsPerSecond: Math.round((COUNT / totalMs) * 1000 * 10) / 10,
        activitiesPerSecond: Math.round(((COUNT * ACTIVITIES_PER_ORCHESTRATION) / totalMs) * 1000),
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        peakRssMb: peakRssMb(host.child.pid!),
        storeMb: dirSizeMb(stateDir),
      };
      fs.mkdirSync(path.dirname(OUT), { recursive: true });
      fs.writeFileSync(OUT, JSON.stringify(figures, null, 2) + '\n');
      console.log(JSON.stringify(figures));
      if (failed > 0) throw new Error(`${failed} orchestrations did not complete`);
    },
    { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 },
  );
});
