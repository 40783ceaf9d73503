import { describe, expect, it } from 'vitest';
import validJson from '../fixtures/config/valid.json';
import invalidJson from '../fixtures/config/invalid.json';
import { CONFIG_SETTINGS, ConfigError, loadConfig, toEncryptionPolicy } from '../../core/config';
import { ValidationError } from '../../core/errors';
import { POLICY_VERSION, parseEncryptionPolicy } from '../../core/policy';

type Env = Record<string, string>;
const validCases = validJson as unknown as Array<{ name: string; env: Env; expect: Record<string, unknown> }>;
const invalidCases = invalidJson as unknown as Array<{ name: string; env: Env; issues: Record<string, string> }>;

const FIXED_NAMES = [
  'ADE_ENCRYPTION_MODE',
  'ADE_VAULT_STRATEGY',
  'ADE_VAULT_RESOURCE_GROUP',
  'ADE_VAULT_NAME_PREFIX',
  'ADE_VAULT_NAME_SALT',
  'ADE_SOFT_DELETE_RETENTION_DAYS',
  'ADE_PURGE_PROTECTION',
  'ADE_KEK_ENABLED',
  'ADE_KEK_SIZE',
  'ADE_KEK_ALGORITHM',
  'ADE_VOLUME_TYPE',
  'ADE_SUBSCRIPTIONS',
  'ADE_SCOPE',
  'ADE_INCLUDE_RESOURCE_GROUPS',
  'ADE_EXCLUDE_RESOURCE_GROUPS',
  'ADE_EXCLUSION_TAG',
  'ADE_OS_FILTER',
  'ADE_DRY_RUN',
  'ADE_SECRET_EVENT_TIMEOUT_MINUTES',
  'ADE_ORCHESTRATION_TIMEOUT_MINUTES',
  'ADE_FALLBACK_POLL_SECONDS',
  'ADE_TAG_OUTCOME',
  'ADE_AUTH_MODE',
  'AZURE_CLIENT_ID',
  'ADE_HEAL_ACTION',
  'ADE_MAINTENANCE_WINDOW',
  'ADE_POLICY_DEFINITION_IDS',
  'ADE_SWEEP_CONCURRENCY',
  'ADE_SWEEP_READS_PER_SECOND',
  'ADE_SWEEP_SCHEDULE',
  'ADE_BEK_HEALTH_SCHEDULE',
  'ADE_OUTCOME_TOPIC_ENDPOINT',
  'ADE_HISTORY_RETENTION_DAYS',
  'ADE_HISTORY_PURGE_SCHEDULE',
  'ADE_VAULT_NETWORK_DEFAULT_ACTION',
  'ADE_VAULT_NETWORK_IP_RULES',
  'ADE_VAULT_BACKUP_PRINCIPAL_ID',
  'ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID',
  'ADE_FUNCTION_APP_RESOURCE_ID',
  'ADE_DEAD_LETTER_CONTAINER_ID',
  'ADE_EVENT_WIRING',
  'ADE_EVENTS_IDENTITY_RESOURCE_ID',
  'ADE_EVENTS_LOCATION',
  'ADE_SECRET_EVENTS_WEBHOOK_URL',
  'ADE_LOCAL_POLL_SECONDS',
  'ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS',
  'ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS',
];
/** Settings that only the local host / simulator sets; infra must not deploy them. */
const LOCAL_ONLY = [
  'ADE_SECRET_EVENTS_WEBHOOK_URL',
  'ADE_LOCAL_POLL_SECONDS',
  'ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS',
  'ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS',
];
const SUBS = { ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555' };

function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('loadConfig accepted an invalid environment');
}

/** What `parseEncryptionPolicy` throws for `policy` with `patch` applied (undefined when it accepts it). */
function policyRefusal(policy: object, patch: object): unknown {
  try {
    parseEncryptionPolicy({ ...policy, ...patch });
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('loadConfig: valid environments', () => {
  it.each(validCases)('$name', ({ env, expect: expected }) => {
    expect(loadConfig(env)).toMatchObject(expected);
  });

  it('reads process.env when no environment is passed', () => {
    const saved = process.env.ADE_SUBSCRIPTIONS;
    process.env.ADE_SUBSCRIPTIONS = '99999999-2222-3333-4444-555555555555';
    try {
      expect(loadConfig().subscriptions).toEqual(['99999999-2222-3333-4444-555555555555']);
    } finally {
      if (saved === undefined) delete process.env.ADE_SUBSCRIPTIONS;
      else process.env.ADE_SUBSCRIPTIONS = saved;
    }
  });

  it('outside Azure and without a webhook there is no secretEvents target, and the backfill sweep runs daily by default', () => {
    const config = loadConfig(SUBS);
    expect(config.secretEventsWebhookUrl).toBeUndefined();
    expect(config.functionApp).toBeUndefined();
    expect(Object.keys(config.remediation).sort()).toEqual([
      'bekHealthSchedule',
      'healAction',
      'policyDefinitionIds',
      'sweepConcurrency',
      'sweepReadsPerSecond',
      'sweepSchedule',
    ]);
    expect(config.remediation.sweepSchedule).toBe('0 0 2 * * *');
    expect(loadConfig({ ...SUBS, ADE_SWEEP_SCHEDULE: 'off' }).remediation.sweepSchedule).toBeUndefined();
  });

  const APP_ID = '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-ade/providers/Microsoft.Web/sites/func-ade';
  const FLEX_OWNER = '11111111-2222-3333-4444-555555555555+flex-99ddf98v18fee2c3d86cb4d0f37573099297d5124520437bfa4ee00d9fc8ff8e-webspace';
  it.each([
    ['Flex Consumption (no WEBSITE_RESOURCE_GROUP)', { WEBSITE_SITE_NAME: 'func-ade', WEBSITE_OWNER_NAME: FLEX_OWNER }],
    [
      'Elastic Premium',
      {
        WEBSITE_SITE_NAME: 'FUNC-ADE',
        WEBSITE_RESOURCE_GROUP: 'rg-ade',
        WEBSITE_OWNER_NAME: '11111111-2222-3333-4444-555555555555+rg-ade-WestEuropewebspace-Linux',
      },
    ],
    ['outside Azure', {}],
  ])('the Function App comes from ADE_FUNCTION_APP_RESOURCE_ID: %s', (_plan, platform) => {
    expect(loadConfig({ ...SUBS, ...platform, ADE_FUNCTION_APP_RESOURCE_ID: APP_ID }).functionApp).toEqual({
      subscriptionId: '11111111-2222-3333-4444-555555555555',
      resourceGroup: 'rg-ade',
      siteName: 'func-ade',
    });
  });

  it('platform variables alone give no Function App (Flex Consumption cannot name the resource group)', () => {
    expect(
      loadConfig({
        ...SUBS,
        WEBSITE_SITE_NAME: 'func-ade',
        WEBSITE_OWNER_NAME: FLEX_OWNER,
        ADE_SECRET_EVENTS_WEBHOOK_URL: 'https://hook.example/x',
      }).functionApp,
    ).toBeUndefined();
  });

  it.each([
    [
      'missing on the platform',
      { WEBSITE_SITE_NAME: 'func-ade', WEBSITE_OWNER_NAME: FLEX_OWNER },
      /ADE_FUNCTION_APP_RESOURCE_ID: is required in Azure \(this is Function App "func-ade"\)/,
    ],
    [
      'not a site id',
      { ADE_FUNCTION_APP_RESOURCE_ID: `${APP_ID}/functions/secretEvents` },
      /ADE_FUNCTION_APP_RESOURCE_ID: expected a Function App resource id/,
    ],
    [
      'not a resource id',
      { ADE_FUNCTION_APP_RESOURCE_ID: 'func-ade' },
      /ADE_FUNCTION_APP_RESOURCE_ID: expected a Function App resource id/,
    ],
    [
      'another app than this one',
      { ADE_FUNCTION_APP_RESOURCE_ID: APP_ID, WEBSITE_SITE_NAME: 'func-other' },
      /ADE_FUNCTION_APP_RESOURCE_ID: names Function App "func-ade", but this app is "func-other"/,
    ],
    [
      'another subscription than this app',
      {
        ADE_FUNCTION_APP_RESOURCE_ID: APP_ID,
        WEBSITE_SITE_NAME: 'func-ade',
        WEBSITE_OWNER_NAME: FLEX_OWNER.replace('11111111', '99999999'),
      },
      /ADE_FUNCTION_APP_RESOURCE_ID: is in subscription 11111111-.*, but this app runs in 99999999-/,
    ],
  ])('ADE_FUNCTION_APP_RESOURCE_ID refused: %s', (_what, env, message) => {
    expect(configErrorOf({ ...SUBS, ...env }).message).toMatch(message);
  });

  it.each([
    ['five fields', '0 */5 * * *', 'has 5 field(s), not 6'],
    ['an hour out of range', '0 0 24 * * *', 'Invalid value for hour'],
    ['a zero step', '*/0 * * * * *', 'illegal stepping'],
    ["croner's last-day extension", '0 0 12 L * *', "'L' is not an NCRONTAB month or day name"],
    ['an nth-weekday extension', '0 0 12 * * 5#2', 'characters NCRONTAB does not know'],
    ['a date that never comes', '0 0 0 31 2 *', 'never fires'],
  ])('NCRONTAB settings are parsed (croner, as the local host does), not pattern-matched: %s', (_what, schedule, problem) => {
    for (const setting of ['ADE_SWEEP_SCHEDULE', 'ADE_BEK_HEALTH_SCHEDULE']) {
      const issue = configErrorOf({ ...SUBS, [setting]: schedule }).issues.find((i) => i.setting === setting);
      expect(issue?.message).toContain('a six-field NCRONTAB expression');
      expect(issue?.message).toContain(problem);
    }
  });

  it.each(['0 0 */6 * * *', '0 30 2 * * Sat,Sun', '0 0 0 13 * FRI', '0 0 1 1 JAN-MAR *'])(
    'accepts the NCRONTAB schedule %s',
    (schedule) => {
      expect(loadConfig({ ...SUBS, ADE_SWEEP_SCHEDULE: schedule }).remediation.sweepSchedule).toBe(schedule);
    },
  );

  it('remediation settings are plain JSON (heal settings travel as orchestration input)', () => {
    const { remediation } = loadConfig({
      ...SUBS,
      ADE_HEAL_ACTION: 'maintenance-window',
      ADE_MAINTENANCE_WINDOW: 'Sun 02:00-04:00',
      ADE_SWEEP_SCHEDULE: '0 0 3 * * *',
    });
    expect(JSON.parse(JSON.stringify(remediation))).toEqual(remediation);
  });
});

describe('loadConfig: invalid environments', () => {
  it.each(invalidCases)('$name', ({ env, issues }) => {
    const error = configErrorOf(env);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.kind).toBe('validation');
    expect(error.retryable).toBe(false);
    const expected = issues;
    expect(error.issues.map((i) => i.setting).sort()).toEqual(Object.keys(expected).sort());
    for (const [setting, fragment] of Object.entries(expected)) {
      const issue = error.issues.find((i) => i.setting === setting);
      expect(issue?.message).toContain(fragment);
      // The message names the setting together with what was wrong.
      expect(error.message).toContain(`${setting}: ${issue?.message}`);
    }
    expect(error.field?.split(',').sort()).toEqual(Object.keys(expected).sort());
  });

  it('never puts the client secret into the error', () => {
    const error = configErrorOf({
      ADE_SUBSCRIPTIONS: 'nope',
      ADE_AUTH_MODE: 'environment',
      AZURE_CLIENT_SECRET: 's3cr3t-value-do-not-log',
      AZURE_TENANT_ID: 'contoso',
      AZURE_CLIENT_ID: 'abcdef01-2345-6789-abcd-ef0123456789',
    });
    expect(error.message).not.toContain('s3cr3t');
    const crossError = configErrorOf({
      ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555',
      ADE_AUTH_MODE: 'environment',
      AZURE_CLIENT_SECRET: 's3cr3t-value-do-not-log',
      AZURE_TENANT_ID: 'contoso',
    });
    expect(crossError.message).not.toContain('s3cr3t');
    expect(crossError.message).toContain('AZURE_CLIENT_ID');
  });

  it.each([
    ['ADE_SECRET_EVENTS_WEBHOOK_URL', 'not a url?code=SUPERSECRETKEY'],
    ['ADE_SECRET_EVENTS_WEBHOOK_URL', 'ftp://host/x?code=SUPERSECRETKEY'],
    ['ADE_OUTCOME_TOPIC_ENDPOINT', 'https://t.example/api/events?sig=SUPERSECRETKEY'],
    ['ADE_OUTCOME_TOPIC_ENDPOINT', 'http://user:SUPERSECRETKEY@t.example/api/events'],
  ])('never echoes a key carried by %s', (name, value) => {
    const error = configErrorOf({ ...SUBS, [name]: value });
    expect(error.issues.map((i) => i.setting)).toEqual([name]);
    expect(error.message).not.toContain('SUPERSECRETKEY');
  });

  it('lists issues in the documented setting order', () => {
    const error = configErrorOf({ AZURE_CLIENT_ID: 'x', ADE_DRY_RUN: 'x', ADE_ENCRYPTION_MODE: 'x' });
    expect(error.issues.map((i) => i.setting)).toEqual(['ADE_ENCRYPTION_MODE', 'ADE_SUBSCRIPTIONS', 'ADE_DRY_RUN', 'AZURE_CLIENT_ID']);
  });
});

describe('ADE_LOCAL_* timings (local host: short waits through settings, never by bending the clock)', () => {
  const IN_AZURE = {
    WEBSITE_SITE_NAME: 'func-ade',
    WEBSITE_RESOURCE_GROUP: 'rg-ade',
    WEBSITE_OWNER_NAME: '11111111-2222-3333-4444-555555555555+rg-ade-westeuropewebspace',
  };
  it.each([
    ['unset: the Azure setting applies', {}, 300],
    ['replaces ADE_FALLBACK_POLL_SECONDS below its 30 s minimum', { ADE_LOCAL_POLL_SECONDS: '2' }, 2],
    ['empty = unset', { ADE_LOCAL_POLL_SECONDS: '', ADE_FALLBACK_POLL_SECONDS: '60' }, 60],
  ])('poll: %s', (_name, env: Env, pollSeconds) => {
    const config = loadConfig({ ...SUBS, ...env });
    expect(config.fallbackPollSeconds).toBe(pollSeconds);
    expect(toEncryptionPolicy(config).timeouts.fallbackPollSeconds).toBe(pollSeconds);
  });

  it.each([
    ['unset: the Azure setting applies', {}, 90],
    [
      'replaces ADE_SECRET_EVENT_TIMEOUT_MINUTES below its 5 min minimum',
      { ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: '30', ADE_LOCAL_POLL_SECONDS: '2' },
      0.5,
    ],
  ])('secret-event timeout: %s', (_name, env: Env, minutes) => {
    const policy = toEncryptionPolicy(loadConfig({ ...SUBS, ...env }));
    expect(policy.timeouts.secretEventTimeoutMinutes).toBe(minutes);
    expect(parseEncryptionPolicy(policy).timeouts.secretEventTimeoutMinutes).toBe(minutes);
  });

  it.each([
    ['zero', { ADE_LOCAL_POLL_SECONDS: '0' }, /expected an integer 1–3600/],
    ['a fraction', { ADE_LOCAL_POLL_SECONDS: '0.5' }, /expected an integer 1–3600/],
    ['not shorter than the secret-event wait', { ADE_LOCAL_POLL_SECONDS: '300', ADE_SECRET_EVENT_TIMEOUT_MINUTES: '5' }, /must be shorter/],
    [
      'set in Azure',
      { ADE_LOCAL_POLL_SECONDS: '2', ...IN_AZURE },
      /local host only and must not be set in Azure \(use ADE_FALLBACK_POLL_SECONDS/,
    ],
    [
      'not shorter than a local secret-event wait',
      { ADE_LOCAL_POLL_SECONDS: '30', ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: '30' },
      /shorter than ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS \(30 s ≥ 0\.5 min\)/,
    ],
  ])('refuses a poll %s', (_name, env: Env, message) => {
    const error = configErrorOf({ ...SUBS, ...env });
    expect(error.issues.find((i) => i.setting === 'ADE_LOCAL_POLL_SECONDS')?.message).toMatch(message);
  });

  it.each([
    ['below 10 s', { ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: '5' }, /expected an integer 10–86400/],
    [
      'set in Azure',
      { ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: '30', ADE_LOCAL_POLL_SECONDS: '2', ...IN_AZURE },
      /use ADE_SECRET_EVENT_TIMEOUT_MINUTES/,
    ],
  ])('refuses a secret-event timeout %s', (_name, env: Env, message) => {
    const error = configErrorOf({ ...SUBS, ...env });
    expect(error.issues.find((i) => i.setting === 'ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS')?.message).toMatch(message);
  });

  it('still enforces the Azure minimum of ADE_FALLBACK_POLL_SECONDS', () => {
    expect(configErrorOf({ ...SUBS, ADE_FALLBACK_POLL_SECONDS: '2' }).issues.map((i) => i.setting)).toContain('ADE_FALLBACK_POLL_SECONDS');
  });
});

describe('ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS', () => {
  it('replaces the run timeout in the policy (fractional minutes, local only)', () => {
    const env = {
      ...SUBS,
      ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS: '45',
      ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: '30',
      ADE_LOCAL_POLL_SECONDS: '2',
    };
    const policy = toEncryptionPolicy(loadConfig(env));
    expect(policy.timeouts.orchestrationTimeoutMinutes).toBe(0.75);
    expect(parseEncryptionPolicy(policy).timeouts.orchestrationTimeoutMinutes).toBe(0.75);
  });
  it.each([
    ['below 20 s', { ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS: '5' }, /expected an integer 20–604800/],
    [
      'not above the secret-event wait',
      { ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS: '60', ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS: '60', ADE_LOCAL_POLL_SECONDS: '2' },
      /must be greater than ADE_LOCAL_SECRET_EVENT_TIMEOUT_SECONDS/,
    ],
    [
      'set in Azure',
      { ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS: '36000', WEBSITE_SITE_NAME: 'func-ade' },
      /use ADE_ORCHESTRATION_TIMEOUT_MINUTES/,
    ],
  ])('refuses %s', (_name, env: Env, message) => {
    const error = configErrorOf({ ...SUBS, ...env });
    expect(error.issues.find((i) => i.setting === 'ADE_LOCAL_ORCHESTRATION_TIMEOUT_SECONDS')?.message).toMatch(message);
  });
});

describe('CONFIG_SETTINGS', () => {
  it('describes exactly the fixed settings, in order', () => {
    expect(CONFIG_SETTINGS.map((s) => s.name)).toEqual(FIXED_NAMES);
  });

  it('documents a default for every optional setting and none for required ones', () => {
    for (const setting of CONFIG_SETTINGS) {
      expect(setting.description.length, setting.name).toBeGreaterThan(10);
      expect(setting.values.length, setting.name).toBeGreaterThan(0);
      if (setting.required) expect(setting.default, setting.name).toBeUndefined();
      else expect(setting.default, setting.name).toBeTypeOf('string');
    }
  });

  it('marks exactly the local-only settings as scope "local" (infra deploys every other one)', () => {
    expect(CONFIG_SETTINGS.filter((s) => s.scope === 'local').map((s) => s.name)).toEqual(LOCAL_ONLY);
    expect(CONFIG_SETTINGS.filter((s) => s.scope !== 'local').every((s) => s.scope === 'app')).toBe(true);
  });

  it('documented defaults are exactly what loadConfig applies', () => {
    const explicit = Object.fromEntries(
      CONFIG_SETTINGS.filter((s) => s.default !== undefined && s.default !== '').map((s) => [s.name, s.default as string]),
    );
    const subs = { ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555' };
    expect(loadConfig({ ...subs, ...explicit })).toEqual(loadConfig(subs));
  });
});

describe('ADE_SCOPE', () => {
  const SUB = '11111111-2222-3333-4444-555555555555';
  const OTHER = 'AAAAAAAA-2222-3333-4444-555555555555';
  it.each([
    ['empty', '', [SUB], []],
    ['a subscription adds to ADE_SUBSCRIPTIONS (lower-cased)', `/subscriptions/${OTHER}`, [SUB, OTHER.toLowerCase()], []],
    ['a management group', '/providers/Microsoft.Management/managementGroups/mg-fleet', [SUB], ['mg-fleet']],
    [
      'both, duplicates dropped',
      ` /subscriptions/${SUB} , /providers/microsoft.management/managementgroups/mg(1).x,` +
        '/providers/Microsoft.Management/managementGroups/mg(1).x',
      [SUB],
      ['mg(1).x'],
    ],
  ])('%s', (_, raw, subscriptions, groups) => {
    const config = loadConfig({ ADE_SUBSCRIPTIONS: SUB, ADE_SCOPE: raw });
    expect(config.subscriptions).toEqual(subscriptions);
    expect(config.managementGroups).toEqual(groups);
    const policy = toEncryptionPolicy(config);
    expect(policy.scope.managementGroups).toEqual(groups.length > 0 ? groups : undefined);
    expect(parseEncryptionPolicy(policy)).toEqual(policy);
  });

  it.each([
    ['a bare GUID', SUB],
    ['a subscription that is not a GUID', '/subscriptions/not-a-guid'],
    ['a resource group', `/subscriptions/${SUB}/resourceGroups/rg`],
    ['a management group name with a slash', '/providers/Microsoft.Management/managementGroups/a/b'],
    ['a management group name too long', `/providers/Microsoft.Management/managementGroups/${'m'.repeat(91)}`],
  ])('refuses %s, naming ADE_SCOPE', (_, raw) => {
    expect(() => loadConfig({ ADE_SUBSCRIPTIONS: SUB, ADE_SCOPE: raw })).toThrow(/ADE_SCOPE/);
  });
});

describe('ADE_EVENT_WIRING', () => {
  const SUB = '11111111-2222-3333-4444-555555555555';
  const APP = `/subscriptions/${SUB}/resourceGroups/rg-app/providers`;
  const complete: Env = {
    ADE_SUBSCRIPTIONS: SUB,
    ADE_SCOPE: '/providers/Microsoft.Management/managementGroups/mg-fleet',
    ADE_EVENT_WIRING: 'auto',
    ADE_FUNCTION_APP_RESOURCE_ID: `${APP}/Microsoft.Web/sites/func-ade`,
    ADE_DEAD_LETTER_CONTAINER_ID: `${APP}/Microsoft.Storage/storageAccounts/stade/blobServices/default/containers/eventgrid-deadletter`,
    ADE_EVENTS_IDENTITY_RESOURCE_ID: `${APP}/Microsoft.ManagedIdentity/userAssignedIdentities/id-ade`,
    ADE_EVENTS_LOCATION: 'WestEurope',
  };

  it('off by default; auto with every setting it needs', () => {
    expect(loadConfig({ ADE_SUBSCRIPTIONS: SUB }).eventWiring).toBeUndefined();
    expect(loadConfig(complete).eventWiring).toEqual({
      identityResourceId: complete.ADE_EVENTS_IDENTITY_RESOURCE_ID,
      location: 'westeurope',
    });
  });

  it.each([
    ['no management group in ADE_SCOPE', { ADE_SCOPE: '' }, 'ADE_EVENT_WIRING', /names none/],
    ['no function app', { ADE_FUNCTION_APP_RESOURCE_ID: '' }, 'ADE_FUNCTION_APP_RESOURCE_ID', /required when ADE_EVENT_WIRING/],
    ['no dead-letter container', { ADE_DEAD_LETTER_CONTAINER_ID: '' }, 'ADE_DEAD_LETTER_CONTAINER_ID', /required when ADE_EVENT_WIRING/],
    ['no identity', { ADE_EVENTS_IDENTITY_RESOURCE_ID: '' }, 'ADE_EVENTS_IDENTITY_RESOURCE_ID', /required when ADE_EVENT_WIRING/],
    ['no location', { ADE_EVENTS_LOCATION: '' }, 'ADE_EVENTS_LOCATION', /required when ADE_EVENT_WIRING/],
    [
      'an identity that is a storage account',
      { ADE_EVENTS_IDENTITY_RESOURCE_ID: `${APP}/Microsoft.Storage/storageAccounts/x` },
      'ADE_EVENTS_IDENTITY_RESOURCE_ID',
      /user-assigned identity/,
    ],
    ['a location with spaces', { ADE_EVENTS_LOCATION: 'West Europe' }, 'ADE_EVENTS_LOCATION', /region name/],
    ['an unknown mode', { ADE_EVENT_WIRING: 'on' }, 'ADE_EVENT_WIRING', /"off" or "auto"/],
  ])('refuses %s, naming the setting', (_, change, setting, message) => {
    let error: unknown;
    try {
      loadConfig({ ...complete, ...change });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issue = (error as ConfigError).issues.find((i) => i.setting === setting);
    expect(issue?.message, JSON.stringify((error as ConfigError).issues)).toMatch(message);
  });
});

describe('toEncryptionPolicy', () => {
  const config = loadConfig({
    ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555',
    ADE_ENCRYPTION_MODE: 'single-pass',
    ADE_EXCLUSION_TAG: 'skip',
    ADE_EXCLUDE_RESOURCE_GROUPS: 'rg-lab-*',
    ADE_SECRET_EVENT_TIMEOUT_MINUTES: '60',
    AZURE_CLIENT_ID: 'abcdef01-2345-6789-abcd-ef0123456789',
  });
  const policy = toEncryptionPolicy(config);

  it('carries every decision-relevant setting with named units', () => {
    expect(policy).toEqual({
      policyVersion: POLICY_VERSION,
      mode: 'single-pass',
      vault: {
        strategy: 'per-region',
        resourceGroup: 'rg-ade-autopilot-vaults',
        namePrefix: 'adeap',
        softDeleteRetentionDays: 90,
        purgeProtection: true,
      },
      kek: { enabled: true, size: 3072, algorithm: 'RSA-OAEP' },
      volumeType: 'All',
      scope: {
        subscriptions: ['11111111-2222-3333-4444-555555555555'],
        includeResourceGroups: ['*'],
        excludeResourceGroups: ['rg-lab-*'],
        exclusionTag: { name: 'skip' },
        osFilter: 'all',
      },
      dryRun: false,
      timeouts: { secretEventTimeoutMinutes: 60, orchestrationTimeoutMinutes: 360, fallbackPollSeconds: 300 },
      tagOutcome: false,
    });
  });

  it('is plain JSON: survives a JSON round trip unchanged and carries no identity details', () => {
    expect(JSON.parse(JSON.stringify(policy))).toEqual(policy);
    expect(JSON.stringify(policy)).not.toContain('abcdef01');
  });

  it('does not share arrays with the config (orchestration input must not alias)', () => {
    policy.scope.subscriptions.push('x');
    expect(config.subscriptions).toHaveLength(1);
  });
});

describe('parseEncryptionPolicy (orchestration input)', () => {
  const policy = toEncryptionPolicy(loadConfig({ ADE_SUBSCRIPTIONS: '11111111-2222-3333-4444-555555555555' }));

  it('accepts what toEncryptionPolicy produces, after a JSON round trip', () => {
    expect(parseEncryptionPolicy(JSON.parse(JSON.stringify(policy)))).toEqual(policy);
  });

  it.each([
    ['an older policy version', { policyVersion: 0 }, 'policy.policyVersion'],
    ['purge protection off', { vault: { ...policy.vault, purgeProtection: false } }, 'policy.vault.purgeProtection'],
    ['unknown mode', { mode: 'dual' }, 'policy.mode'],
    ['no subscriptions', { scope: { ...policy.scope, subscriptions: [] } }, 'policy.scope.subscriptions'],
    ['timeouts as strings', { timeouts: { ...policy.timeouts, fallbackPollSeconds: '300' } }, 'policy.timeouts.fallbackPollSeconds'],
  ])('rejects %s, naming the field', (_label, patch, field) => {
    const caught = policyRefusal(policy, patch);
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).field).toBe(field);
    expect((caught as Error).message).toContain(field);
  });

  it.each([null, 'policy', 42, []])('rejects a non-object %j', (input) => {
    expect(() => parseEncryptionPolicy(input)).toThrow(ValidationError);
  });
});

describe('one set of policy rules: what start-up refuses as a setting, orchestration input refuses as a policy', () => {
  const policy = toEncryptionPolicy(loadConfig({ ...SUBS, ADE_OS_FILTER: 'linux' }));
  const windows = { ...policy.scope, osFilter: 'windows' as const };
  // Before, the policy schema only checked types (and "positive"), so each of these passed as input.
  it.each([
    [
      'retention below 7 days',
      { ADE_SOFT_DELETE_RETENTION_DAYS: '3' },
      { vault: { ...policy.vault, softDeleteRetentionDays: 3 } },
      'policy.vault.softDeleteRetentionDays',
    ],
    [
      'a resource group ending in a dot',
      { ADE_VAULT_RESOURCE_GROUP: 'rg.' },
      { vault: { ...policy.vault, resourceGroup: 'rg.' } },
      'policy.vault.resourceGroup',
    ],
    // Timeouts: the policy also carries the local host's shorter waits (ADE_LOCAL_*_SECONDS, refused in Azure), so it
    // refuses below those floors; the Azure settings refuse below Azure's minimums (tested above).
    [
      'no secret wait at all',
      { ADE_SECRET_EVENT_TIMEOUT_MINUTES: '0' },
      { timeouts: { ...policy.timeouts, secretEventTimeoutMinutes: 0 } },
      'policy.timeouts.secretEventTimeoutMinutes',
    ],
    [
      'polling with no interval',
      { ADE_FALLBACK_POLL_SECONDS: '0' },
      { timeouts: { ...policy.timeouts, fallbackPollSeconds: 0 } },
      'policy.timeouts.fallbackPollSeconds',
    ],
    [
      'a resource-group pattern with a slash',
      { ADE_INCLUDE_RESOURCE_GROUPS: 'rg/x' },
      { scope: { ...policy.scope, includeResourceGroups: ['rg/x'] } },
      'policy.scope.includeResourceGroups.0',
    ],
    [
      'a tag name with <',
      { ADE_EXCLUSION_TAG: 'a<b' },
      { scope: { ...policy.scope, exclusionTag: { name: 'a<b' } } },
      'policy.scope.exclusionTag.name',
    ],
    [
      'an RSA-2048 KEK for Windows',
      { ADE_KEK_SIZE: '2048', ADE_OS_FILTER: 'windows' },
      { kek: { ...policy.kek, size: 2048 }, scope: windows },
      'policy.kek.size',
    ],
    [
      'data volumes only on Windows',
      { ADE_VOLUME_TYPE: 'Data', ADE_OS_FILTER: 'windows' },
      { volumeType: 'Data', scope: windows },
      'policy.volumeType',
    ],
    [
      'a run shorter than its secret wait',
      { ADE_SECRET_EVENT_TIMEOUT_MINUTES: '60', ADE_ORCHESTRATION_TIMEOUT_MINUTES: '60' },
      { timeouts: { ...policy.timeouts, secretEventTimeoutMinutes: 60, orchestrationTimeoutMinutes: 60 } },
      'policy.timeouts.orchestrationTimeoutMinutes',
    ],
  ] as const)('%s', (_label, env, patch, field) => {
    expect(() => loadConfig({ ...SUBS, ADE_OS_FILTER: 'linux', ...env })).toThrow(ConfigError);
    const caught = policyRefusal(policy, patch);
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as Error).message).toContain(field);
  });
});
