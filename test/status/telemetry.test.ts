/**
 * Structured log records (core/telemetry.ts): one JSON message per record carrying vmId, instanceId, phase, outcome
 * and reason, what handler cores log through contextLog and what each orchestration writes when it ends.
 */
import { describe, expect, it } from 'vitest';
import { LOG_EVENTS, logLine, runOutcomeRecord } from '../../core/telemetry';
import { orchestrationInstanceId } from '../../core/names';
import { contextLog } from '../../functions/lib/log';

const VM = '/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';

describe('logLine', () => {
  it('is one JSON object: the message and the fields, undefined left out, long strings cut', () => {
    const parsed = JSON.parse(logLine('started', { vmId: VM, instanceId: 'encrypt-x', none: undefined, reason: 'r'.repeat(3000) }));
    expect(parsed).toMatchObject({ message: 'started', vmId: VM, instanceId: 'encrypt-x' });
    expect(parsed).not.toHaveProperty('none');
    expect(parsed.reason).toHaveLength(2001);
  });

  it('contextLog writes each level through the invocation context as that JSON line', () => {
    const lines: Array<[string, string]> = [];
    const context = {
      debug: (m: string) => lines.push(['debug', m]),
      info: (m: string) => lines.push(['info', m]),
      warn: (m: string) => lines.push(['warn', m]),
      error: (m: string) => lines.push(['error', m]),
    };
    const log = contextLog(context);
    for (const level of ['debug', 'info', 'warn', 'error'] as const) log(level, `at ${level}`, { vmId: VM });
    expect(lines.map(([level, line]) => [level, JSON.parse(line)])).toEqual(
      ['debug', 'info', 'warn', 'error'].map((level) => [level, { message: `at ${level}`, vmId: VM }]),
    );
  });
});

describe('runOutcomeRecord', () => {
  const id = orchestrationInstanceId(VM);
  it.each([
    {
      name: 'encryptVm',
      output: { vmId: VM, outcome: 'encrypted' },
      expected: { event: LOG_EVENTS.vmEncrypted, phase: 'done', outcome: 'encrypted' },
    },
    {
      name: 'encryptVm',
      output: { vmId: VM, outcome: 'failed', reason: 'deploySinglePassExtension: AuthorizationFailed' },
      expected: {
        event: LOG_EVENTS.encryptionFailed,
        phase: 'failed',
        outcome: 'failed',
        reason: 'deploySinglePassExtension: AuthorizationFailed',
        nextStep: expect.stringContaining('Grant'),
      },
    },
    {
      name: 'restoreBek',
      output: { vmId: VM, outcome: 'unrecoverable', reason: 'purged', steps: [] },
      expected: { event: LOG_EVENTS.bekUnrecoverable, phase: 'failed', outcome: 'unrecoverable', reason: 'purged' },
    },
    {
      name: 'remediateVm',
      output: { target: { kind: 'vm', vmId: VM }, action: 'restore', reason: 'BEK missing', result: 'failed', signal: {} },
      expected: { event: LOG_EVENTS.remediationFailed, phase: 'failed', outcome: 'failed' },
    },
    {
      name: 'remediateVm',
      output: { target: { kind: 'vm', vmId: VM }, action: 'nothing', reason: 'healthy', result: 'skipped', signal: {} },
      expected: { event: LOG_EVENTS.runCompleted, phase: 'done', outcome: 'nothing' },
    },
  ])('$name $output.outcome$output.result → $expected.event', ({ name, output, expected }) => {
    const record = runOutcomeRecord(name, id, output)!;
    expect(record.fields).toMatchObject({ vmId: VM, instanceId: id, orchestration: name, ...expected });
  });

  it('nothing for an orchestration that acts on no VM (sweep)', () => {
    expect(runOutcomeRecord('sweep', 'sweep-backfill', {})).toBeUndefined();
  });
});
