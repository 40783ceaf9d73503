import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors';
import {
  type AdeEvent,
  type Result,
  detectSchema,
  isCommonAlert,
  MAX_ALERT_TARGETS,
  MAX_EVENTS_PER_DELIVERY,
  parseCommonAlert,
  parseDelivery,
  splitDelivery,
} from '../../core/events';

const FIXTURES = join(__dirname, '..', 'fixtures', 'events');
const fixture = (name: string): any => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

function okEvents(body: unknown): AdeEvent[] {
  const delivery = parseDelivery(body);
  if (!delivery.ok) throw delivery.error;
  return delivery.value.events.map((r, i) => {
    if (!r.ok) throw new Error(`event ${i} failed: ${r.error.message}`);
    return r.value;
  });
}

function errorOf<T>(result: Result<T>): ValidationError {
  if (result.ok) throw new Error('expected a validation error, got success');
  return result.error;
}

describe('envelope detection', () => {
  it.each([
    ['eg-arm-batch.json', 'EventGrid', true, 5],
    ['eg-subscription-validation.json', 'EventGrid', true, 1],
    ['ce-vm-write-single.json', 'CloudEvents', false, 1],
    ['ce-batch.json', 'CloudEvents', true, 3],
  ])('%s is %s (batch=%s, %i events)', (name, schema, batch, count) => {
    const delivery = parseDelivery(fixture(name));
    expect(delivery.ok).toBe(true);
    if (!delivery.ok) return;
    expect(delivery.value.schema).toBe(schema);
    expect(delivery.value.batch).toBe(batch);
    expect(delivery.value.events).toHaveLength(count);
  });

  it('accepts the raw body text and bytes as well as parsed JSON', () => {
    const text = readFileSync(join(FIXTURES, 'eg-arm-batch.json'), 'utf8');
    expect(okEvents(text)).toEqual(okEvents(JSON.parse(text)));
    expect(okEvents(Buffer.from(text))).toEqual(okEvents(JSON.parse(text)));
  });

  it.each([
    ['not JSON text', '{"id": ', 'body'],
    ['an empty batch', [], 'events'],
    ['a number', 42, 'body'],
    ['null', null, 'body'],
    ['an object of no known schema', { hello: 'world' }, 'event'],
    ['a batch of no known schema', [{ hello: 'world' }], 'events[0]'],
  ])('rejects %s as a whole, naming %s', (_label, body, field) => {
    const error = errorOf(parseDelivery(body));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.field).toBe(field);
  });

  it('reports a CloudEvent mixed into an Event Grid batch without failing the others', () => {
    const batch = [fixture('eg-arm-batch.json')[0], fixture('ce-vm-write-single.json')];
    const delivery = parseDelivery(batch);
    if (!delivery.ok) throw delivery.error;
    expect(delivery.value.events[0]?.ok).toBe(true);
    expect(errorOf(delivery.value.events[1]!).field).toBe('events[1]');
  });

  it('detectSchema looks only at the keys', () => {
    expect(detectSchema({ specversion: '1.0' })).toBe('CloudEvents');
    expect(detectSchema({ eventType: 'x' })).toBe('EventGrid');
    expect(detectSchema([])).toBeUndefined();
  });
});

describe('Resource Manager events', () => {
  it.each([
    [0, 'write', 'success', 'Microsoft.Compute/virtualMachines/write'],
    [1, 'delete', 'success', 'Microsoft.Compute/virtualMachines/extensions/delete'],
    [2, 'action', 'success', 'Microsoft.Compute/virtualMachines/deallocate/action'],
    [3, 'write', 'failure', 'Microsoft.Compute/virtualMachines/write'],
    [4, 'write', 'success', 'Microsoft.KeyVault/vaults/write'],
  ])('event %i: %s/%s of %s', (index, operation, outcome, operationName) => {
    const event = okEvents(fixture('eg-arm-batch.json'))[index]!;
    expect(event.kind).toBe('resource');
    if (event.kind !== 'resource') return;
    expect(event.operation).toBe(operation);
    expect(event.outcome).toBe(outcome);
    expect(event.data.operationName).toBe(operationName);
    expect(event.data.resourceUri).toBe(fixture('eg-arm-batch.json')[index].data.resourceUri);
    expect(event.data.correlationId).toBe('0f6a2c1e-7d3b-4b8e-9c55-2f1e8d7a6b01');
    expect(event.data.claims?.appid).toBe('0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d');
    expect(event.data.authorization?.evidence?.principalType).toBe('ServicePrincipal');
  });

  it('keeps httpRequest when present', () => {
    const event = okEvents(fixture('eg-arm-batch.json'))[1]!;
    if (event.kind !== 'resource') throw new Error('expected a resource event');
    expect(event.data.httpRequest?.method).toBe('DELETE');
  });

  it('accepts claims/authorization/httpRequest serialised as JSON strings (2018 swagger) and no resourceGroup', () => {
    const [event] = okEvents(fixture('eg-arm-stringified.json'));
    if (event?.kind !== 'resource') throw new Error('expected a resource event');
    expect(event.data.claims?.name).toBe('deploy-pipeline');
    expect(event.data.authorization?.action).toBe('Microsoft.Compute/virtualMachines/write');
    expect(event.data.httpRequest?.method).toBe('PUT');
    expect(event.data.resourceGroup).toBeUndefined();
  });

  it('parses the same payload in a CloudEvents envelope, mapping source to topic', () => {
    const [event] = okEvents(fixture('ce-vm-write-single.json'));
    if (event?.kind !== 'resource') throw new Error('expected a resource event');
    expect(event.envelope).toMatchObject({ schema: 'CloudEvents', id: 'c1', topic: '/subscriptions/11111111-2222-3333-4444-555555555555' });
    expect(event.data.operationName).toBe('Microsoft.Compute/virtualMachines/write');
  });
});

describe('Key Vault events', () => {
  it('reads PascalCase data with a numeric NBF and a null EXP', () => {
    const [event] = okEvents(fixture('eg-keyvault-secret-pascal.json'));
    if (event?.kind !== 'key-vault') throw new Error('expected a key vault event');
    expect(event).toMatchObject({ objectKind: 'secret', change: 'new-version' });
    expect(event.data).toEqual({
      id: 'https://kv-ade-weu-1a2b.vault.azure.net/secrets/3f6d0c1e-8a2b-4c3d-9e8f-0a1b2c3d4e5f/0a1b2c3d4e5f60718293a4b5c6d7e8f9',
      vaultName: 'kv-ade-weu-1a2b',
      objectType: 'Secret',
      objectName: '3f6d0c1e-8a2b-4c3d-9e8f-0a1b2c3d4e5f',
      version: '0a1b2c3d4e5f60718293a4b5c6d7e8f9',
      nbf: 1795255500,
    });
  });

  it.each([
    [0, 'key', 'near-expiry', 'kek', '9f8e7d6c5b4a39281706f5e4d3c2b1a0', 1764000000, 1797000000],
    [1, 'secret', 'expired', 'legacy-secret', '00112233445566778899aabbccddeeff', 1700000000, 1760000000],
  ])('event %i: camelCase / odd casing, numeric strings → %s %s', (index, objectKind, change, objectName, version, nbf, exp) => {
    const event = okEvents(fixture('eg-keyvault-camel-strings.json'))[index]!;
    if (event.kind !== 'key-vault') throw new Error('expected a key vault event');
    expect(event.objectKind).toBe(objectKind);
    expect(event.change).toBe(change);
    expect(event.data).toMatchObject({ objectName, version, nbf, exp });
  });

  it('decodes data_base64 CloudEvents and leaves unknown types unrecognised', () => {
    const events = okEvents(fixture('ce-batch.json'));
    expect(events.map((e) => e.kind)).toEqual(['key-vault', 'key-vault', 'unrecognised']);
    expect(events[1]!.data).toEqual(events[0]!.data);
  });

  it('derives the version from a versioned Id when Version is missing', () => {
    const body = fixture('eg-keyvault-secret-pascal.json');
    delete body[0].data.Version;
    const [event] = okEvents(body);
    expect((event!.data as { version: string }).version).toBe('0a1b2c3d4e5f60718293a4b5c6d7e8f9');
  });
});

describe('Policy Insights events', () => {
  it.each([
    [0, 'changed', 'NonCompliant'],
    [1, 'created', 'Compliant'],
    [2, 'deleted', ''],
  ])('event %i is a %s state (%s)', (index, change, complianceState) => {
    const body = fixture('eg-policy-states.json');
    const event = okEvents(body)[index]!;
    if (event.kind !== 'policy-state') throw new Error('expected a policy event');
    expect(event.change).toBe(change);
    expect(event.data.complianceState).toBe(complianceState);
    expect(event.resourceId).toBe(body[index].subject);
    expect(event.data.policyDefinitionReferenceId).toBe('');
  });
});

describe('subscription validation', () => {
  it('reads the code from an Event Grid batch', () => {
    const [event] = okEvents(fixture('eg-subscription-validation.json'));
    expect(event).toMatchObject({ kind: 'subscription-validation', data: { validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' } });
    expect(event!.envelope.subject).toBeUndefined();
  });

  it('reads the code from a CloudEvent whose data is a JSON string', () => {
    const [event] = okEvents(fixture('ce-subscription-validation.json'));
    expect(event).toMatchObject({ kind: 'subscription-validation', data: { validationCode: '0a0b0c0d-1111-2222-3333-444455556666' } });
  });
});

/** Each case mutates one valid fixture event; the error must name exactly the field at fault. */
const MALFORMED: Array<[string, string, number, (event: any) => void, string]> = [
  ['ARM: resourceUri missing', 'eg-arm-batch.json', 2, (e) => delete e.data.resourceUri, 'events[2].data.resourceUri'],
  ['ARM: resourceUri a number', 'eg-arm-batch.json', 0, (e) => (e.data.resourceUri = 12), 'events[0].data.resourceUri'],
  ['ARM: operationName empty', 'eg-arm-batch.json', 1, (e) => (e.data.operationName = ' '), 'events[1].data.operationName'],
  ['ARM: claims an unparsable string', 'eg-arm-batch.json', 0, (e) => (e.data.claims = '{not json'), 'events[0].data.claims'],
  ['ARM: authorization an array', 'eg-arm-batch.json', 0, (e) => (e.data.authorization = []), 'events[0].data.authorization'],
  ['ARM: status a number', 'eg-arm-batch.json', 0, (e) => (e.data.status = 200), 'events[0].data.status'],
  ['ARM: data a string', 'eg-arm-batch.json', 4, (e) => (e.data = 'oops'), 'events[4].data'],
  ['envelope: id missing', 'eg-arm-batch.json', 3, (e) => delete e.id, 'events[3].id'],
  ['envelope: eventTime not a date', 'eg-arm-batch.json', 0, (e) => (e.eventTime = 'yesterday'), 'events[0].eventTime'],
  ['envelope: data missing', 'eg-arm-batch.json', 0, (e) => delete e.data, 'events[0].data'],
  ['envelope: subject missing', 'eg-arm-batch.json', 0, (e) => delete e.subject, 'events[0].subject'],
  ['envelope: event is null', 'eg-arm-batch.json', 1, (_e) => undefined, 'events[1]'],
  ['Key Vault: Id missing', 'eg-keyvault-secret-pascal.json', 0, (e) => delete e.data.Id, 'events[0].data.Id'],
  ['Key Vault: VaultName a number', 'eg-keyvault-secret-pascal.json', 0, (e) => (e.data.VaultName = 7), 'events[0].data.VaultName'],
  ['Key Vault: NBF not numeric', 'eg-keyvault-secret-pascal.json', 0, (e) => (e.data.NBF = 'soon'), 'events[0].data.NBF'],
  ['Key Vault: EXP an object', 'eg-keyvault-camel-strings.json', 1, (e) => (e.data.EXP = {}), 'events[1].data.EXP'],
  [
    'Key Vault: no version anywhere',
    'eg-keyvault-secret-pascal.json',
    0,
    (e) => {
      delete e.data.Version;
      e.data.Id = 'https://kv.vault.azure.net/secrets/x';
    },
    'events[0].data.Version',
  ],
  ['Policy: complianceState missing', 'eg-policy-states.json', 0, (e) => delete e.data.complianceState, 'events[0].data.complianceState'],
  ['Policy: timestamp garbage', 'eg-policy-states.json', 1, (e) => (e.data.timestamp = 'not a time'), 'events[1].data.timestamp'],
  [
    'Policy: policyAssignmentId missing',
    'eg-policy-states.json',
    2,
    (e) => delete e.data.policyAssignmentId,
    'events[2].data.policyAssignmentId',
  ],
  ['Validation: code missing', 'eg-subscription-validation.json', 0, (e) => delete e.data.validationCode, 'events[0].data.validationCode'],
  ['CloudEvents: wrong specversion', 'ce-batch.json', 0, (e) => (e.specversion = '0.3'), 'events[0].specversion'],
  ['CloudEvents: source missing', 'ce-batch.json', 2, (e) => delete e.source, 'events[2].source'],
  [
    'CloudEvents: data_base64 not JSON',
    'ce-batch.json',
    1,
    (e) => (e.data_base64 = Buffer.from('nope').toString('base64')),
    'events[1].data_base64',
  ],
  ['CloudEvents: KV data Id missing', 'ce-batch.json', 0, (e) => delete e.data.Id, 'events[0].data.Id'],
];

describe('malformed events', () => {
  it.each(MALFORMED)('%s → names %s', (_label, name, index, mutate, field) => {
    const body = fixture(name);
    const replaced = mutate(body[index]);
    if (field === `events[${index}]`) body[index] = replaced ?? null;
    const delivery = parseDelivery(body);
    if (!delivery.ok) throw delivery.error;
    const error = errorOf(delivery.value.events[index]!);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.kind).toBe('validation');
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
    // The rest of the batch is unaffected.
    delivery.value.events.forEach((result, i) => {
      if (i !== index) expect(result.ok).toBe(true);
    });
  });

  it('splitDelivery separates events to handle from malformed ones, in order', () => {
    const body = fixture('eg-arm-batch.json');
    delete body[1].data.resourceUri;
    delete body[3].id;
    const delivery = parseDelivery(body);
    if (!delivery.ok) throw delivery.error;
    const { events, errors } = splitDelivery(delivery.value);
    expect(events.map((e) => e.envelope.id)).toEqual(['e1', 'e3', 'e5']);
    expect(errors.map((e) => e.field)).toEqual(['events[1].data.resourceUri', 'events[3].id']);
  });

  it('single CloudEvent errors are prefixed with "event"', () => {
    const body = fixture('ce-vm-write-single.json');
    delete body.data.operationName;
    const delivery = parseDelivery(body);
    if (!delivery.ok) throw delivery.error;
    expect(errorOf(delivery.value.events[0]!).field).toBe('event.data.operationName');
  });

  it('never echoes field values (claims may be sensitive) in error messages', () => {
    const body = fixture('eg-arm-batch.json');
    body[0].data.resourceUri = { secret: 'hunter2-value' };
    const delivery = parseDelivery(body);
    if (!delivery.ok) throw delivery.error;
    expect(errorOf(delivery.value.events[0]!).message).not.toContain('hunter2');
  });

  it('lists every problem of one event, naming the first as the field', () => {
    const body = fixture('eg-arm-batch.json');
    delete body[0].data.resourceUri;
    delete body[0].data.operationName;
    const delivery = parseDelivery(body);
    if (!delivery.ok) throw delivery.error;
    const error = errorOf(delivery.value.events[0]!);
    expect(error.field).toBe('events[0].data.resourceUri');
    expect(error.message).toContain('events[0].data.operationName');
  });
});

describe('Azure Monitor common alert schema', () => {
  it('parses an activity-log alert and lifts its operation name', () => {
    const body = fixture('alert-activity-log.json');
    expect(isCommonAlert(body)).toBe(true);
    const result = parseCommonAlert(body);
    if (!result.ok) throw result.error;
    expect(result.value.essentials).toMatchObject({ severity: 'Sev2', monitorCondition: 'Fired', signalType: 'Activity Log' });
    expect(result.value.essentials.alertTargetIDs).toEqual([body.data.essentials.alertTargetIDs[0]]);
    expect(result.value.operationName).toBe('Microsoft.Compute/virtualMachines/extensions/delete');
    expect(result.value.customProperties).toBeNull();
  });

  it('parses a resolved metric alert with custom properties, from text', () => {
    const result = parseCommonAlert(readFileSync(join(FIXTURES, 'alert-metric-resolved.json'), 'utf8'));
    if (!result.ok) throw result.error;
    expect(result.value.essentials.resolvedDateTime).toBe('2026-11-20T14:03:16.2246313Z');
    expect(result.value.customProperties).toEqual({ team: 'platform' });
    expect(result.value.operationName).toBeUndefined();
  });

  it.each<[string, (b: any) => void, string]>([
    ['wrong schemaId', (b) => (b.schemaId = 'AzureMonitorMetricAlert'), 'alert.schemaId'],
    ['no essentials', (b) => delete b.data.essentials, 'alert.data.essentials'],
    ['alertTargetIDs a string', (b) => (b.data.essentials.alertTargetIDs = 'x'), 'alert.data.essentials.alertTargetIDs'],
    [
      'alertTargetIDs with a number',
      (b) => (b.data.essentials.alertTargetIDs = ['/subscriptions/x', 3]),
      'alert.data.essentials.alertTargetIDs[1]',
    ],
    ['unknown severity', (b) => (b.data.essentials.severity = 'Critical'), 'alert.data.essentials.severity'],
    ['unknown monitorCondition', (b) => (b.data.essentials.monitorCondition = 'Open'), 'alert.data.essentials.monitorCondition'],
    ['firedDateTime missing', (b) => delete b.data.essentials.firedDateTime, 'alert.data.essentials.firedDateTime'],
    ['alertContext a string', (b) => (b.data.alertContext = 'x'), 'alert.data.alertContext'],
    [
      `more than ${MAX_ALERT_TARGETS} targets`,
      (b) => (b.data.essentials.alertTargetIDs = Array.from({ length: MAX_ALERT_TARGETS + 1 }, (_, i) => `/subscriptions/x/${i}`)),
      'alert.data.essentials.alertTargetIDs',
    ],
  ])('rejects %s, naming %s', (_label, mutate, field) => {
    const body = fixture('alert-activity-log.json');
    mutate(body);
    expect(errorOf(parseCommonAlert(body)).field).toBe(field);
  });

  it(`accepts exactly ${MAX_ALERT_TARGETS} targets`, () => {
    const body = fixture('alert-activity-log.json');
    body.data.essentials.alertTargetIDs = Array.from({ length: MAX_ALERT_TARGETS }, (_, i) => `/subscriptions/x/${i}`);
    expect(parseCommonAlert(body).ok).toBe(true);
  });

  it(`a delivery of more than ${MAX_EVENTS_PER_DELIVERY} events (Event Grid's largest batch) is unusable as a whole`, () => {
    const [event] = fixture('eg-arm-batch.json');
    expect(parseDelivery(Array.from({ length: MAX_EVENTS_PER_DELIVERY }, () => event)).ok).toBe(true);
    expect(errorOf(parseDelivery(Array.from({ length: MAX_EVENTS_PER_DELIVERY + 1 }, () => event))).field).toBe('events');
  });

  it('rejects non-JSON text and non-objects', () => {
    expect(errorOf(parseCommonAlert('{')).field).toBe('alert');
    expect(errorOf(parseCommonAlert([1])).field).toBe('alert');
    expect(isCommonAlert(fixture('eg-arm-batch.json'))).toBe(false);
  });
});

/** Every leaf of every fixture replaced by hostile values: parsing must return a Result, never throw. */
describe('robustness', () => {
  const HOSTILE: unknown[] = [
    null,
    undefined,
    0,
    -1,
    Number.POSITIVE_INFINITY,
    Number.NaN,
    '',
    ' ',
    'x',
    '{',
    [],
    {},
    [null],
    { nested: { deep: [] } },
    true,
  ];
  const files = [
    'eg-arm-batch.json',
    'eg-arm-stringified.json',
    'eg-keyvault-secret-pascal.json',
    'eg-keyvault-camel-strings.json',
    'eg-policy-states.json',
    'eg-subscription-validation.json',
    'ce-vm-write-single.json',
    'ce-subscription-validation.json',
    'ce-batch.json',
  ];

  function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
    if (typeof value !== 'object' || value === null) return [prefix];
    const keys = Array.isArray(value) ? value.map((_v, i) => i) : Object.keys(value);
    return [prefix, ...keys.flatMap((k) => paths((value as any)[k], [...prefix, k]))];
  }

  it.each(files)('%s', (name) => {
    const original = fixture(name);
    let runs = 0;
    for (const path of paths(original)) {
      if (path.length === 0) continue;
      for (const replacement of HOSTILE) {
        const body = structuredClone(original);
        let target = body;
        for (const key of path.slice(0, -1)) target = target[key];
        target[path[path.length - 1]!] = replacement;
        const delivery = parseDelivery(body);
        runs++;
        if (!delivery.ok) {
          expect(delivery.error).toBeInstanceOf(ValidationError);
          continue;
        }
        for (const result of delivery.value.events) {
          if (!result.ok) {
            expect(result.error).toBeInstanceOf(ValidationError);
            expect(result.error.field).toMatch(/^(events\[\d+\]|event)/);
          }
        }
      }
    }
    expect(runs).toBeGreaterThan(20);
  });

  it('alerts: every essentials field replaced by hostile values', () => {
    const original = fixture('alert-activity-log.json');
    for (const key of Object.keys(original.data.essentials)) {
      for (const replacement of HOSTILE) {
        const body = structuredClone(original);
        body.data.essentials[key] = replacement;
        const result = parseCommonAlert(body);
        if (!result.ok) expect(result.error.field).toMatch(/^alert\.data\.essentials\./);
      }
    }
  });
});
