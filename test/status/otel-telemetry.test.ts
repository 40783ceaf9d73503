/**
 * Each log record also goes out as an OpenTelemetry log record whose attributes are its fields (azure/telemetry.ts):
 * what the Azure Monitor exporter turns into `customDimensions`. An in-memory exporter on the global logs API stands
 * in for Azure Monitor.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { logs } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { OrchestrationContext } from 'durable-functions';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { logAttributes, startAzureMonitor, TELEMETRY_SCOPE } from '../../azure/telemetry';
import { orchestrationInstanceId } from '../../core/names';
import { LOG_EVENTS } from '../../core/telemetry';
import { contextLog } from '../../functions/lib/log';
import { withOutcomeLog } from '../../orchestrations/steps';

const REPO_ROOT = path.resolve(__dirname, '../..');
const VM = '/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';
const exporter = new InMemoryLogRecordExporter();
const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
logs.setGlobalLoggerProvider(provider);
afterAll(() => logs.disable());
beforeEach(() => exporter.reset());

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const exported = () =>
  exporter.getFinishedLogRecords().map((r) => ({
    scope: r.instrumentationScope.name,
    severityText: r.severityText,
    body: r.body,
    attributes: r.attributes,
  }));

describe('contextLog', () => {
  it.each([
    ['debug', 'DEBUG'],
    ['info', 'INFO'],
    ['warn', 'WARN'],
    ['error', 'ERROR'],
  ] as const)('%s: one record, body = message, attributes = the dimensions', (level, severityText) => {
    const fields = {
      event: LOG_EVENTS.encryptionFailed,
      vmId: VM,
      instanceId: 'encrypt-x',
      phase: 'failed',
      outcome: 'failed',
      reason: 'denied',
    };
    contextLog(silent)(level, 'encryptVm failed', fields);
    expect(exported()).toEqual([{ scope: TELEMETRY_SCOPE, severityText, body: 'encryptVm failed', attributes: fields }]);
  });

  it('keeps the JSON message line for context.log', () => {
    const lines: string[] = [];
    contextLog({ ...silent, info: (line: string) => lines.push(line) })('info', 'started', { vmId: VM });
    expect(lines.map((line) => JSON.parse(line))).toEqual([{ message: 'started', vmId: VM }]);
    expect(exported()[0]!.attributes).toEqual({ vmId: VM });
  });
});

describe('logAttributes', () => {
  it.each([
    { name: 'scalars as they are', fields: { purged: 3, dryRun: false, vmId: VM }, expected: { purged: 3, dryRun: false, vmId: VM } },
    {
      name: 'objects and arrays as JSON',
      fields: { vmIds: ['a', 'b'], detail: { a: 1 } },
      expected: { vmIds: '["a","b"]', detail: '{"a":1}' },
    },
    { name: 'undefined, null and message left out', fields: { reason: undefined, outcome: null, message: 'x' }, expected: {} },
    { name: 'long strings cut like the JSON line', fields: { reason: 'r'.repeat(3000) }, expected: { reason: `${'r'.repeat(2000)}…` } },
  ])('$name', ({ fields, expected }) => {
    expect(logAttributes(fields)).toEqual(expected);
  });
});

describe('outcome records of orchestrations', () => {
  const run = (isReplaying: boolean) => {
    const instanceId = orchestrationInstanceId(VM);
    const context = { ...silent, df: { isReplaying, instanceId } } as unknown as OrchestrationContext;
    // eslint-disable-next-line require-yield
    const orchestrator = withOutcomeLog('encryptVm', function* () {
      return { vmId: VM, outcome: 'failed', reason: 'deploySinglePassExtension: AuthorizationFailed' };
    });
    orchestrator(context).next();
    return instanceId;
  };

  it('emit one record with the dimensions when the run ends', () => {
    const instanceId = run(false);
    expect(exported()).toEqual([
      {
        scope: TELEMETRY_SCOPE,
        severityText: 'WARN',
        body: 'encryptVm failed',
        attributes: expect.objectContaining({
          event: LOG_EVENTS.encryptionFailed,
          vmId: VM,
          instanceId,
          phase: 'failed',
          outcome: 'failed',
          reason: 'deploySinglePassExtension: AuthorizationFailed',
        }),
      },
    ]);
  });

  it('emit nothing on replay', () => {
    run(true);
    expect(exported()).toEqual([]);
  });
});

describe('startAzureMonitor', () => {
  it('stays off without APPLICATIONINSIGHTS_CONNECTION_STRING (the exporter is not even loaded)', () => {
    const credential = { getToken: async () => null };
    expect(startAzureMonitor(credential, {})).toBe(false);
    expect(Object.keys(require.cache).some((file) => file.includes('@azure/monitor-opentelemetry-exporter'))).toBe(false);
  });

  it('with a connection string, loads the exporter and builds the credential at the first record, not at start-up', () => {
    // A fresh process (the built module), so the exporter's global registration does not touch this file's provider.
    const child = `
      const telemetry = require(process.argv[1]);
      const loaded = () => Object.keys(require.cache).some((f) => f.includes('monitor-opentelemetry-exporter'));
      let credentialBuilt = false;
      const credential = () => ((credentialBuilt = true), { getToken: async () => null });
      const on = telemetry.startAzureMonitor(credential, {
        APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
      });
      const atStart = { on, loaded: loaded(), credentialBuilt };
      telemetry.emitLogRecord('info', 'first record', {});
      process.stdout.write(JSON.stringify({ atStart, afterFirstRecord: { loaded: loaded(), credentialBuilt } }));
      process.exit(0);`;
    const out = execFileSync(process.execPath, ['-e', child, path.join(REPO_ROOT, 'dist', 'azure', 'telemetry.js')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(JSON.parse(out)).toEqual({
      atStart: { on: true, loaded: false, credentialBuilt: false },
      afterFirstRecord: { loaded: true, credentialBuilt: true },
    });
  });
});
