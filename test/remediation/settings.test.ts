import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config';
import { isInsideWindow, nextWindowOpening, parseMaintenanceWindow } from '../../core/remediation/maintenance-window';
import { DEFAULT_POLICY_DEFINITION_IDS, loadRemediationSettings, REMEDIATION_SETTINGS } from '../../core/remediation/settings';

describe('loadRemediationSettings', () => {
  it('defaults every setting', () => {
    const s = loadRemediationSettings({});
    expect(s).toEqual({
      healAction: 'restart',
      policyDefinitionIds: [...DEFAULT_POLICY_DEFINITION_IDS],
      sweepConcurrency: 20,
      sweepReadsPerSecond: 10,
      bekHealthSchedule: '0 0 */6 * * *',
    });
  });

  it('every setting has metadata with a description and allowed values', () => {
    for (const s of REMEDIATION_SETTINGS) {
      expect(s.name).toMatch(/^ADE_[A-Z_]+$/);
      expect(s.description.length).toBeGreaterThan(10);
      expect(s.values.length).toBeGreaterThan(0);
    }
  });

  it('reads valid values', () => {
    const s = loadRemediationSettings({
      ADE_HEAL_ACTION: 'Maintenance-Window', ADE_MAINTENANCE_WINDOW: 'Sat,Sun 01:00-05:00', ADE_POLICY_DEFINITION_IDS: '/providers/Microsoft.Authorization/policyDefinitions/abc, /providers/Microsoft.Authorization/policyDefinitions/abc',
      ADE_SWEEP_CONCURRENCY: '5', ADE_SWEEP_READS_PER_SECOND: '25', ADE_SWEEP_SCHEDULE: '0 0 2 * * Sun', ADE_OUTCOME_TOPIC_ENDPOINT: 'https://topic.westeurope-1.eventgrid.azure.net/api/events',
    });
    expect(s.healAction).toBe('maintenance-window');
    expect(s.maintenanceWindow).toEqual({ days: [0, 6], startMinute: 60, durationMinutes: 240 });
    expect(s.policyDefinitionIds).toEqual(['/providers/Microsoft.Authorization/policyDefinitions/abc']);
    expect(s.sweepConcurrency).toBe(5);
    expect(s.sweepSchedule).toBe('0 0 2 * * Sun');
    expect(s.outcomeTopicEndpoint).toContain('eventgrid');
  });

  it.each([
    [{ ADE_HEAL_ACTION: 'reboot' }, 'ADE_HEAL_ACTION', 'expected "restart"'],
    [{ ADE_HEAL_ACTION: 'maintenance-window' }, 'ADE_MAINTENANCE_WINDOW', 'is required'],
    [{ ADE_MAINTENANCE_WINDOW: 'Caturday 01:00-02:00' }, 'ADE_MAINTENANCE_WINDOW', 'unknown day'],
    [{ ADE_MAINTENANCE_WINDOW: 'Sat 25:00-02:00' }, 'ADE_MAINTENANCE_WINDOW', 'HH:MM'],
    [{ ADE_POLICY_DEFINITION_IDS: 'not-an-id' }, 'ADE_POLICY_DEFINITION_IDS', 'invalid: "not-an-id"'],
    [{ ADE_SWEEP_CONCURRENCY: '0' }, 'ADE_SWEEP_CONCURRENCY', 'integer 1–500'],
    [{ ADE_SWEEP_CONCURRENCY: '20x' }, 'ADE_SWEEP_CONCURRENCY', 'integer 1–500'],
    [{ ADE_SWEEP_READS_PER_SECOND: '26' }, 'ADE_SWEEP_READS_PER_SECOND', 'integer 1–25'],
    [{ ADE_SWEEP_SCHEDULE: '*/5 * * * *' }, 'ADE_SWEEP_SCHEDULE', 'six-field'],
    [{ ADE_BEK_HEALTH_SCHEDULE: 'hourly' }, 'ADE_BEK_HEALTH_SCHEDULE', 'six-field'],
    [{ ADE_OUTCOME_TOPIC_ENDPOINT: 'http://topic.example/api/events' }, 'ADE_OUTCOME_TOPIC_ENDPOINT', 'https URL'],
  ])('%j → %s problem', (env, setting, text) => {
    let error: unknown;
    try {
      loadRemediationSettings(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issue = (error as ConfigError).issues.find((i) => i.setting === setting);
    expect(issue?.message).toContain(text);
  });

  it('never echoes a SAS token from the topic endpoint', () => {
    let message = '';
    try {
      loadRemediationSettings({ ADE_OUTCOME_TOPIC_ENDPOINT: 'https://t.example/api/events?sig=SUPERSECRETSIG' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('ADE_OUTCOME_TOPIC_ENDPOINT');
    expect(message).not.toContain('SUPERSECRETSIG');
  });

  it('reports several problems at once', () => {
    let error: ConfigError | undefined;
    try {
      loadRemediationSettings({ ADE_HEAL_ACTION: 'x', ADE_SWEEP_CONCURRENCY: '0' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.issues.map((i) => i.setting).sort()).toEqual(['ADE_HEAL_ACTION', 'ADE_SWEEP_CONCURRENCY']);
  });
});

describe('maintenance window', () => {
  it.each([
    ['* 00:00-23:59', { days: [0, 1, 2, 3, 4, 5, 6], startMinute: 0, durationMinutes: 1439 }],
    ['Mon-Fri 22:00-02:00', { days: [1, 2, 3, 4, 5], startMinute: 1320, durationMinutes: 240 }],
    ['Fri-Mon 03:30-04:00', { days: [0, 1, 5, 6], startMinute: 210, durationMinutes: 30 }],
    ['sunday 12:00-12:00', { days: [0], startMinute: 720, durationMinutes: 1440 }],
  ])('parses %s', (text, expected) => {
    expect(parseMaintenanceWindow(text)).toEqual(expected);
  });

  // 2026-11-27 is a Friday.
  it.each([
    ['Sat,Sun 01:00-05:00', '2026-11-27T10:00:00Z', '2026-11-28T01:00:00.000Z'],
    ['Sat,Sun 01:00-05:00', '2026-11-28T02:00:00Z', '2026-11-28T02:00:00.000Z'],
    ['Sat,Sun 01:00-05:00', '2026-11-29T05:00:00Z', '2026-12-05T01:00:00.000Z'],
    ['Fri 23:00-02:00', '2026-11-28T01:30:00Z', '2026-11-28T01:30:00.000Z'],
    ['Fri 23:00-02:00', '2026-11-28T02:00:00Z', '2026-12-04T23:00:00.000Z'],
    ['* 00:00-23:59', '2026-11-27T23:59:30Z', '2026-11-28T00:00:00.000Z'],
  ])('%s at %s opens %s', (text, now, expected) => {
    const window = parseMaintenanceWindow(text);
    const opening = nextWindowOpening(window, new Date(now));
    expect(opening.toISOString()).toBe(expected);
    expect(isInsideWindow(window, new Date(now))).toBe(opening.getTime() === Date.parse(now));
  });
});
