/**
 * infra/check-settings.cjs runs the app's own loadConfig (dist/core/config.js, as deploy.sh does) on the settings a
 * deployment would set, so the templates' defaults and every shipped parameters file are proven acceptable
 * to the app, and a bad combination stops deploy.sh before it touches Azure.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_SETTINGS } from '../../core/config';
import { INFRA_DIR, REPO_ROOT } from './arm';

const CHECK = path.join(INFRA_DIR, 'check-settings.cjs');
const SUBSCRIPTION = '00000000-1111-2222-3333-444444444444';
const CENTRAL = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/central`;
const PARAMETER_FILES = readdirSync(INFRA_DIR).filter((f) => f.endsWith('.parameters.json'));
/**
 * What main.json sets from parameters: every app-scoped setting but those computed inside the app deployment
 * (AZURE_CLIENT_ID, known only after deployment; ADE_FUNCTION_APP_RESOURCE_ID, the site's own id; ADE_VAULT_NAME_SALT, from the
 * identity's principal id; ADE_DEAD_LETTER_CONTAINER_ID, the app storage account's dead-letter container;
 * ADE_EVENTS_IDENTITY_RESOURCE_ID, the identity's own id).
 */
const COMPUTED_IN_APP_DEPLOYMENT = [
  'AZURE_CLIENT_ID',
  'ADE_FUNCTION_APP_RESOURCE_ID',
  'ADE_VAULT_NAME_SALT',
  'ADE_DEAD_LETTER_CONTAINER_ID',
  'ADE_EVENTS_IDENTITY_RESOURCE_ID',
];
const DEPLOYED = CONFIG_SETTINGS.filter((s) => s.scope === 'app' && !COMPUTED_IN_APP_DEPLOYMENT.includes(s.name)).map((s) => s.name);

/** The app's own configuration module, as deploy.sh runs it: compiled by the test run's global setup. */
const CONFIG_MODULE = path.join(REPO_ROOT, 'dist', 'core', 'config.js');
let workDir: string;

function check(parametersFile: string, module = CONFIG_MODULE) {
  return spawnSync('node', [CHECK, path.join(INFRA_DIR, 'main.json'), parametersFile, module, SUBSCRIPTION], { encoding: 'utf8' });
}

function writeParameters(name: string, parameters: Record<string, unknown>): string {
  const file = path.join(workDir, name);
  writeFileSync(file, JSON.stringify({ parameters: Object.fromEntries(Object.entries(parameters).map(([k, value]) => [k, { value }])) }));
  return file;
}

beforeAll(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'ade-check-settings-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('check-settings.cjs with the real core/config.ts', () => {
  it('accepts the template defaults', () => {
    const result = check(writeParameters('empty.parameters.json', {}));
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`${DEPLOYED.length} app settings accepted by config.js\n`);
    expect(result.status).toBe(0);
  });

  it.each(PARAMETER_FILES)('accepts the shipped %s', (file) => {
    const result = check(path.join(INFRA_DIR, file));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('rejects a combination the app would refuse, listing every problem', () => {
    const result = check(
      writeParameters('bad.parameters.json', {
        kekSize: 2048,
        osFilter: 'all',
        secretEventTimeoutMinutes: 400,
        orchestrationTimeoutMinutes: 360,
        healAction: 'maintenance-window',
        sweepSchedule: '*/5 * * * *',
      }),
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('the app would refuse these settings');
    expect(result.stderr).toContain('ADE_KEK_SIZE');
    expect(result.stderr).toContain('ADE_ORCHESTRATION_TIMEOUT_MINUTES');
    expect(result.stderr).toContain('ADE_MAINTENANCE_WINDOW: is required when ADE_HEAL_ACTION is "maintenance-window"');
    expect(result.stderr).toContain('ADE_SWEEP_SCHEDULE');
  });

  it.each([
    [{ eventWiring: 'auto', adeScope: '/providers/Microsoft.Management/managementGroups/mg-fleet' }, 0, ''],
    [{ eventWiring: 'auto' }, 1, 'ADE_EVENT_WIRING: "auto" wires subscriptions discovered under ADE_SCOPE\'s management groups'],
  ])('eventWiring=auto is checked with the settings the app deployment computes: %j', (parameters, status, message) => {
    const result = check(writeParameters('event-wiring.parameters.json', parameters));
    expect(result.status, result.stderr).toBe(status);
    if (message) expect(result.stderr).toContain(message);
    else expect(result.stderr).toBe('');
  });

  it.each([
    [{ enableSelfHealingRestart: false }, 'healAction "restart" deallocates and starts VMs, but enableSelfHealingRestart is false'],
    [
      { enableSelfHealingRestart: false, healAction: 'maintenance-window', maintenanceWindow: 'Sat 01:00-05:00' },
      'healAction "maintenance-window" deallocates',
    ],
  ])('rejects heal actions that restart VMs without the restart role: %j', (parameters, message) => {
    const result = check(writeParameters('no-restart.parameters.json', parameters));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(message);
  });

  it.each([
    [{ enableSelfHealingRestart: false, healAction: 'notify-only' }],
    [{ enableSelfHealingRestart: true, healAction: 'maintenance-window', maintenanceWindow: 'Sat 01:00-05:00' }],
  ])('accepts heal actions the granted roles allow: %j', (parameters) => {
    const result = check(writeParameters('heal.parameters.json', parameters));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.each([
    [{}, ''],
    [{ vaultDiagnostics: false, vaultDiagnosticsWorkspaceId: '/ignored/when/off' }, ''],
    [
      { vaultDiagnostics: true },
      `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-ade-autopilot/providers/Microsoft.OperationalInsights/workspaces/log-ade-autopilot`,
    ],
    [
      { vaultDiagnostics: true, appResourceGroupName: 'rg-x', baseName: 'adeap-x' },
      `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-x/providers/Microsoft.OperationalInsights/workspaces/log-adeap-x`,
    ],
    [{ vaultDiagnostics: true, vaultDiagnosticsWorkspaceId: CENTRAL }, CENTRAL],
  ])('ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID from %j is %j, and the app accepts it', (parameters, expected) => {
    const recorder = path.join(workDir, 'recording-diagnostics.js');
    const recorded = path.join(workDir, 'recorded-diagnostics.json');
    writeFileSync(
      recorder,
      `exports.loadConfig = (env) => require('fs').writeFileSync(${JSON.stringify(recorded)}, JSON.stringify(env));\n`,
    );
    const file = writeParameters('diagnostics.parameters.json', parameters);
    expect(check(file, recorder).status).toBe(0);
    expect((JSON.parse(readFileSync(recorded, 'utf8')) as Record<string, string>).ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID).toBe(expected);
    const real = check(file);
    expect([real.stderr, real.status]).toEqual(['', 0]);
  });

  it('a vaultDiagnosticsWorkspaceId that is no workspace id is refused before deployment', () => {
    const result = check(
      writeParameters('bad-diagnostics.parameters.json', { vaultDiagnostics: true, vaultDiagnosticsWorkspaceId: 'log-central' }),
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID: expected a Log Analytics workspace resource id');
  });

  it('passes every setting the config module reads, computed like main.json (AZURE_CLIENT_ID known only after deployment)', () => {
    const recorder = path.join(workDir, 'recording-config.js');
    const recorded = path.join(workDir, 'recorded-env.json');
    writeFileSync(
      recorder,
      `exports.loadConfig = (env) => require('fs').writeFileSync(${JSON.stringify(recorded)}, JSON.stringify(env));\n`,
    );
    const result = check(
      writeParameters('targets.parameters.json', {
        targetSubscriptionIds: ['aaaaaaaa-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000002'],
        dryRun: true,
      }),
      recorder,
    );
    expect(result.status).toBe(0);
    const env = JSON.parse(readFileSync(recorded, 'utf8')) as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual([...DEPLOYED].sort());
    expect(env.ADE_SUBSCRIPTIONS).toBe('aaaaaaaa-0000-0000-0000-000000000001,aaaaaaaa-0000-0000-0000-000000000002');
    expect(env.ADE_DRY_RUN).toBe('true');
    const defaults = Object.fromEntries(CONFIG_SETTINGS.filter((s) => s.default !== undefined).map((s) => [s.name, s.default]));
    for (const name of [
      'ADE_ENCRYPTION_MODE',
      'ADE_KEK_SIZE',
      'ADE_KEK_ENABLED',
      'ADE_EXCLUDE_RESOURCE_GROUPS',
      'ADE_AUTH_MODE',
      'ADE_HEAL_ACTION',
      'ADE_SWEEP_CONCURRENCY',
      'ADE_BEK_HEALTH_SCHEDULE',
      'ADE_POLICY_DEFINITION_IDS',
      'ADE_OUTCOME_TOPIC_ENDPOINT',
    ])
      expect(env[name], name).toBe(defaults[name]);
  });
});

describe('deploy.sh stops on settings the app would refuse', () => {
  it('fails before any Azure change', () => {
    const dir = path.join(workDir, 'deploy');
    const bin = path.join(dir, 'bin');
    const app = path.join(dir, 'app');
    mkdirSync(bin, { recursive: true });
    mkdirSync(path.join(app, 'dist', 'core'), { recursive: true });
    copyFileSync(path.join(__dirname, 'fixtures', 'fake-az.cjs'), path.join(bin, 'az'));
    chmodSync(path.join(bin, 'az'), 0o755);
    writeFileSync(
      path.join(app, 'dist', 'core', 'config.js'),
      "exports.loadConfig = () => { throw new Error('Invalid configuration (1 problem):\\n  - " +
        "ADE_VOLUME_TYPE: Data needs ADE_OS_FILTER=linux'); };\n",
    );
    writeFileSync(path.join(app, 'host.json'), '{"version":"2.0"}\n');
    const log = path.join(dir, 'az.log');
    const result = spawnSync('bash', [path.join(INFRA_DIR, 'deploy.sh'), '-l', 'westeurope', '--package-dir', app], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_AZ_LOG: log, FAKE_AZ_STATE: path.join(dir, 'state.json') },
      timeout: 120_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('ADE_VOLUME_TYPE: Data needs ADE_OS_FILTER=linux');
    const calls = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as string[]).join(' '));
    // Only reads (context, pre-flight, existing topics): nothing validated, deployed, uploaded or granted.
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((c) => /^(deployment sub (create|validate)|functionapp|resource tag)|--method (POST|PATCH|PUT)/.test(c))).toEqual(
      [],
    );
  }, 150_000);
});
