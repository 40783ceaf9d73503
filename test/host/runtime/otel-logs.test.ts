/**
 * OpenTelemetry log records an app emits (global logs API) reach the local host's JSON log with their attributes as
 * top-level fields, attributed to the invocation that emitted them (local/host/runtime/otel-logs.ts).
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFunctionApp, type LoadedApp } from '../../../local/host/runtime/load-app';
import { createStructuredLogger } from '../../../local/host/runtime/logger';

const appDir = path.resolve(__dirname, '../../apps/runtime-otel');
const lines: string[] = [];
const logger = createStructuredLogger({ format: 'json', write: (line) => lines.push(line) });
const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
let runtime: LoadedApp;

beforeAll(async () => {
  runtime = await loadFunctionApp({ appDir, logger });
});

describe("the local host's JSON log", () => {
  it('shows a record emitted during an invocation with its dimensions as fields, next to the context.log line', async () => {
    await runtime.invoke('telemetry', { triggerData: { json: JSON.stringify({ IsPastDue: false }) } });
    const plain = records().find((r) => r.message === 'plain context.log line')!;
    expect(plain).toMatchObject({ functionName: 'telemetry', logCategory: 'user' });
    const otel = records().find((r) => r.source === 'OpenTelemetry' && r.message === 'encryptVm failed');
    expect(otel).toEqual({
      time: expect.any(String),
      level: 'warning',
      category: 'Function.telemetry.User',
      message: 'encryptVm failed',
      source: 'OpenTelemetry',
      logCategory: 'user',
      functionName: 'telemetry',
      invocationId: plain.invocationId,
      event: 'EncryptionFailed',
      vmId: '/subscriptions/s/vm1',
      instanceId: 'encrypt-1',
      phase: 'failed',
      outcome: 'failed',
      reason: 'denied',
      'attributes.message': 'shadowed',
    });
  });

  it('shows a record emitted while the app loads as a host record', () => {
    expect(records().find((r) => r.message === 'app loaded')).toMatchObject({
      level: 'information',
      category: 'Host.User',
      source: 'OpenTelemetry',
      phase: 'start',
    });
  });
});
