/**
 * `npm run demo -- [--count 6] [--timeout 600] [--state .state]`: against a running `npm start`, creates
 * a handful of Windows and Linux VMs in three regions through @azure/arm-compute (as the demo user, over
 * the simulator's proxy), shows each one's progress from the app's status API (`GET /api/vms/…`, function key) until
 * all are encrypted or failed, then a summary with the app's ARM / Graph / Key Vault calls per VM from the
 * simulator's request log. On a TTY the table is redrawn in place; otherwise one line per change.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { orchestrationInstanceId } from '../../core/names';
import { DEMO_RESOURCE_GROUP } from '../start/stack';
import { callsBy, percentile, perVm, ratio, seconds, type RequestCountsSnapshot } from './metrics';
import { Session, type OsKind } from './session';
import { applyStatus, isDone, progressLine, renderTable, type VmProgress, type VmStatus } from './table';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const REGIONS: ReadonlyArray<{ name: string; short: string }> = [
  { name: 'westeurope', short: 'weu' },
  { name: 'northeurope', short: 'neu' },
  { name: 'eastus', short: 'eus' },
];
const USAGE = 'usage: npm run demo -- [--count 6] [--timeout 600] [--state DIR]';

export function demoVms(count: number, runId: string): Array<{ name: string; os: OsKind; region: string }> {
  return Array.from({ length: count }, (_, i) => {
    const os: OsKind = i % 2 === 0 ? 'Windows' : 'Linux';
    const region = REGIONS[Math.floor(i / 2) % REGIONS.length]!;
    return { name: `demo-${os === 'Windows' ? 'win' : 'lnx'}-${region.short}-${runId}-${i}`, os, region: region.name };
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { count: { type: 'string' }, timeout: { type: 'string' }, state: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const count = Number(values.count ?? 6);
  if (!Number.isInteger(count) || count < 1 || count > 60) throw new Error(`--count must be an integer 1-60, got '${values.count}'`);
  const timeoutMs = Number(values.timeout ?? 600) * 1000;
  if (!(timeoutMs > 0)) throw new Error(`--timeout must be a positive number of seconds, got '${values.timeout}'`);
  const stateRoot = path.resolve(values.state ?? path.join(REPO_ROOT, '.state'));

  const session = await Session.connect(stateRoot);
  const tty = process.stdout.isTTY === true;
  const before = await session.control<RequestCountsSnapshot>('GET', '/_sim/requests/counts');
  const runId = randomBytes(2).toString('hex');
  const specs = demoVms(count, runId);
  process.stdout.write(
    `Creating ${count} VMs in ${DEMO_RESOURCE_GROUP} ` +
      `(${[...new Set(specs.map((s) => s.region))].join(', ')}) through Resource Manager as the demo ` +
      `user…\n`,
  );

  const rows: VmProgress[] = await Promise.all(
    specs.map(async (spec) => {
      const vmId = await session.createVm({ ...spec, location: spec.region, resourceGroup: DEMO_RESOURCE_GROUP });
      return {
        name: spec.name,
        os: spec.os,
        region: spec.region,
        vmId,
        instanceId: orchestrationInstanceId(vmId),
        createdAt: Date.now(),
        phase: 'created',
        state: 'pending',
      } satisfies VmProgress;
    }),
  );
  const started = Math.min(...rows.map((r) => r.createdAt));
  const deadline = started + timeoutMs;

  let drawn = 0;
  const draw = () => {
    const lines = renderTable(rows, Date.now());
    process.stdout.write(`${drawn > 0 ? `\x1b[${drawn}A\x1b[J` : ''}${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  for (;;) {
    const now = Date.now();
    await Promise.all(
      rows
        .filter((r) => !isDone(r))
        .map(async (row) => {
          const changed = applyStatus(row, await session.vm<VmStatus>(row.vmId), Date.now());
          if (changed && !tty) process.stdout.write(`${progressLine(row, Date.now())}\n`);
        }),
    );
    if (tty) draw();
    if (rows.every(isDone)) break;
    if (now > deadline) {
      process.stdout.write(
        `Gave up after ${timeoutMs / 1000} s: ${rows
          .filter((r) => !isDone(r))
          .map((r) => `${r.name} (${r.phase})`)
          .join(', ')} still running.\n`,
      );
      break;
    }
    await new Promise((r) => setTimeout(r, tty ? 400 : 1000));
  }

  const after = await session.control<RequestCountsSnapshot>('GET', '/_sim/requests/counts');
  const summary = await session.statusApi<{ counts: Record<string, number> }>('summary');
  const calls = callsBy(session.state.automationObjectId, before, after);
  const finished = rows.filter(isDone);
  const encrypted = rows.filter((r) => r.state === 'encrypted').length;
  const failed = rows.filter((r) => r.state === 'failed').length;
  const makespan = finished.length > 0 ? Math.max(...finished.map((r) => r.doneAt!)) - started : undefined;
  const durations = finished.map((r) => r.doneAt! - r.createdAt);
  process.stdout.write(
    [
      '',
      `Summary: ${encrypted} encrypted, ${failed} failed, ` +
        `${rows.length - encrypted - failed - (rows.length - finished.length)} other outcome, ` +
        `${rows.length - finished.length} unfinished (of ${rows.length})`,
      `  the app's calls per VM: ARM ${ratio(perVm(calls.armReads, rows.length))} reads / ` +
        `${ratio(perVm(calls.armWrites, rows.length))} writes, Graph ` +
        `${ratio(perVm(calls.graphWrites, rows.length))} writes, Key Vault ` +
        `${ratio(perVm(calls.keyVaultOperations, rows.length))} operations`,
      `  creation → done: p50 ${seconds(percentile(durations, 50))}, max ` +
        `${seconds(percentile(durations, 100))}; makespan ${seconds(makespan)} ` +
        `(real time; slow Azure operations ×${session.state.speed} faster)`,
      `  the fleet (GET /api/summary): ${JSON.stringify(summary?.counts ?? {})}`,
      `  dashboard: ${session.dashboardUrl()}`,
      '',
    ].join('\n'),
  );
  return failed === 0 && finished.length === rows.length ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`npm run demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
