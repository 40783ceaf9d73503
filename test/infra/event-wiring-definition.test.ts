/**
 * infra/main.json + infra/event-subscriptions.json and the app's runtime event wiring (ADE_EVENT_WIRING=auto) write the
 * same topics and event subscriptions: the template's `vm-written` / `arm-drift` / `policy-states` properties, evaluated
 * with sample parameters, equal core/events/subscription-wiring.ts's bodies for the same settings, and main.json's
 * system topics have the runtime's names and types. A change on either side fails here.
 */
import { describe, expect, it } from 'vitest';
import {
  POLICY_EVENTS_TOPIC_NAME,
  POLICY_EVENTS_TOPIC_TYPE,
  policyEventSubscriptions,
  RESOURCE_EVENTS_TOPIC_NAME,
  RESOURCE_EVENTS_TOPIC_TYPE,
  resourceEventSubscriptions,
  type WiringSettings,
} from '../../core/events/subscription-wiring';
import {
  allResources,
  isExpression,
  loadTemplate,
  objectOf,
  parseExpression,
  resourcesOf,
  templateLevels,
  type Expr,
  type Json,
  type JsonObject,
} from './arm';

const FUNCTION_APP = '/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg-app/providers/Microsoft.Web/sites/func-ade';
const IDENTITY =
  '/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg-app/providers/Microsoft.ManagedIdentity/' +
  'userAssignedIdentities/id-ade';
const STORAGE =
  '/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stade';

function evaluate(expr: Expr, parameters: Record<string, unknown>): unknown {
  switch (expr.kind) {
    case 'string':
    case 'number':
      return expr.value;
    case 'property': {
      const target = evaluate(expr.target, parameters) as Record<string, unknown>;
      return target[expr.property];
    }
    case 'call': {
      const args = expr.args.map((a) => evaluate(a, parameters));
      if (expr.name === 'parameters') {
        if (!(String(args[0]) in parameters)) throw new Error(`parameter ${String(args[0])} not supplied`);
        return parameters[String(args[0])];
      }
      if (expr.name === 'format') return String(args[0]).replace(/\{(\d+)\}/g, (_, i: string) => String(args[1 + Number(i)]));
      throw new Error(`function ${expr.name} not supported by this test`);
    }
    default:
      throw new Error(`expression ${expr.kind} not supported by this test`);
  }
}

function resolve(value: Json, parameters: Record<string, unknown>): unknown {
  if (isExpression(value)) return evaluate(parseExpression(value), parameters);
  if (Array.isArray(value)) return value.map((v) => resolve(v, parameters));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, parameters)]));
  return value;
}

const POLICY_IDS = [
  '/providers/Microsoft.Authorization/policyDefinitions/3dc5edcd-002d-444c-b216-e123bbfa37c0',
  '/providers/Microsoft.Authorization/policyDefinitions/ca88aadc-6e2b-416c-9de2-5a0f01d1693f',
];

/** The template's three subscriptions, with its outer parameters at their defaults plus the given values. */
function templateSubscriptions(values: Record<string, unknown>): Record<string, unknown> {
  const levels = templateLevels('event-subscriptions.json');
  const root = levels[0]!.template;
  const rootParameters: Record<string, unknown> = { ...values };
  for (const [name, p] of Object.entries(objectOf(root.parameters)))
    if (!(name in rootParameters) && objectOf(p).defaultValue !== undefined) rootParameters[name] = objectOf(p).defaultValue;
  const perSubscription = resourcesOf(root)[0]!;
  const deliveryPolicy = resolve(
    objectOf(objectOf(objectOf(perSubscription.properties).parameters).deliveryPolicy).value as Json,
    rootParameters,
  );
  const nested = levels.find((l) => l.deployment?.name === 'ade-autopilot-resource-events')!;
  const nestedParameters = {
    functionAppResourceId: values.functionAppResourceId,
    resourceEventsTopicName: 'topic',
    vaultResourceGroupName: values.vaultResourceGroupName,
    deliveryPolicy,
  };
  const out: Record<string, unknown> = {};
  for (const r of resourcesOf(nested.template)) {
    const name = String(r.name).replace("[format('{0}/", '').replace("', parameters('resourceEventsTopicName'))]", '');
    out[name] = resolve(r.properties as JsonObject, nestedParameters);
  }
  // policy-states sits on the per-subscription level, next to the Resource Manager topic's nested deployment.
  const perSubscriptionParameters = {
    functionAppResourceId: values.functionAppResourceId,
    policyEventsTopicName: 'policy-topic',
    policyDefinitionIds: values.policyDefinitionIds,
    deliveryPolicy,
  };
  for (const r of resourcesOf(levels[1]!.template).filter((r) => r.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions')) {
    const name = String(r.name).replace("[format('{0}/", '').replace("', parameters('policyEventsTopicName'))]", '');
    out[name] = resolve(r.properties as JsonObject, perSubscriptionParameters);
  }
  return out;
}

describe('the runtime event wiring and event-subscriptions.json share one definition', () => {
  it.each([
    ['defaults', {}],
    ['custom retry', { maxDeliveryAttempts: 5, eventTimeToLiveInMinutes: 60 }],
  ])('vm-written and arm-drift are equal (%s)', (_, retry: { maxDeliveryAttempts?: number; eventTimeToLiveInMinutes?: number }) => {
    const settings: WiringSettings = {
      functionAppResourceId: FUNCTION_APP,
      identityResourceId: IDENTITY,
      deadLetter: { storageAccountId: STORAGE, containerName: 'eventgrid-deadletter' },
      vaultResourceGroup: 'rg-vaults',
      policyDefinitionIds: POLICY_IDS,
      ...retry,
    };
    const fromTemplate = templateSubscriptions({
      functionAppResourceId: FUNCTION_APP,
      identityResourceId: IDENTITY,
      storageAccountResourceId: STORAGE,
      vaultResourceGroupName: 'rg-vaults',
      policyDefinitionIds: POLICY_IDS,
      ...retry,
    });
    const runtime = Object.fromEntries(
      [...resourceEventSubscriptions(settings), ...policyEventSubscriptions(settings)].map((s) => [s.name, s.properties]),
    );
    expect(Object.keys(fromTemplate).sort()).toEqual(['arm-drift', 'policy-states', 'vm-written']);
    expect(runtime).toEqual(fromTemplate);
  });

  it('a different destination or dead-letter container is noticed', () => {
    const base: WiringSettings = {
      functionAppResourceId: FUNCTION_APP,
      identityResourceId: IDENTITY,
      deadLetter: { storageAccountId: STORAGE, containerName: 'eventgrid-deadletter' },
      vaultResourceGroup: 'rg-vaults',
      policyDefinitionIds: POLICY_IDS,
    };
    const fromTemplate = templateSubscriptions({
      functionAppResourceId: FUNCTION_APP,
      identityResourceId: IDENTITY,
      storageAccountResourceId: STORAGE,
      vaultResourceGroupName: 'rg-vaults',
      policyDefinitionIds: POLICY_IDS,
    });
    for (const changed of [
      { ...base, functionAppResourceId: `${FUNCTION_APP}x` },
      { ...base, deadLetter: { ...base.deadLetter, containerName: 'other' } },
      { ...base, policyDefinitionIds: POLICY_IDS.slice(1) },
    ]) {
      const runtime = Object.fromEntries(
        [...resourceEventSubscriptions(changed), ...policyEventSubscriptions(changed)].map((s) => [s.name, s.properties]),
      );
      expect(runtime).not.toEqual(fromTemplate);
    }
  });

  it('no policy definition configured: no policy-states subscription (Event Grid refuses an empty StringIn)', () => {
    const settings: WiringSettings = {
      functionAppResourceId: FUNCTION_APP,
      identityResourceId: IDENTITY,
      deadLetter: { storageAccountId: STORAGE, containerName: 'eventgrid-deadletter' },
      vaultResourceGroup: 'rg-vaults',
      policyDefinitionIds: [],
    };
    expect(policyEventSubscriptions(settings)).toEqual([]);
    expect(policyEventSubscriptions({ ...settings, policyDefinitionIds: POLICY_IDS }).map((s) => s.name)).toEqual(['policy-states']);
  });

  it("main.json's system topics have the names and types the runtime creates or looks for", () => {
    const main = loadTemplate('main.json');
    const variables = objectOf(main.variables);
    const topics = allResources(templateLevels('main.json', main))
      .map(({ resource }) => resource)
      .filter((r) => r.type === 'Microsoft.EventGrid/systemTopics');
    const typeOf = (nameParameter: string) =>
      topics.filter((t) => t.name === `[parameters('${nameParameter}')]`).map((t) => objectOf(t.properties).topicType);
    expect(variables.resourceEventsTopicName).toBe(RESOURCE_EVENTS_TOPIC_NAME);
    expect(variables.policyEventsTopicName).toBe(POLICY_EVENTS_TOPIC_NAME);
    expect(typeOf('resourceEventsTopicName')).toEqual([RESOURCE_EVENTS_TOPIC_TYPE]);
    expect(typeOf('policyEventsTopicName')).toEqual([POLICY_EVENTS_TOPIC_TYPE]);
  });
});
