/**
 * Proofs about infra/*.json without deploying anything: structure, parameters, api-versions known by the
 * locked @azure/arm-* SDKs, least-privilege role assignments with real built-in ids, app settings equal to
 * what core/config.ts reads, Event Grid filters equal to core/events/routes.ts, and no secrets in outputs
 * or defaults. Each check also runs against a deliberately broken template to show it can fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_SETTINGS } from '../../core/config';
import { EVENT_ROUTES, advancedFilters, type AdvancedFilter, type EventRoute } from '../../core/events/routes';
import {
  INFRA_DIR,
  allResources,
  allStrings,
  calls,
  createObjectKeys,
  isExpression,
  loadJson,
  loadTemplate,
  objectOf,
  parseExpression,
  referencedParameters,
  resourcesOf,
  templateLevels,
  type ArmTemplate,
  type Expr,
  type Json,
  type JsonObject,
  type TemplateLevel,
} from './arm';
import { BUILT_IN_ROLES } from './built-in-roles';
import {
  API_VERSIONS_WITHOUT_SDK,
  SDK_BY_NAMESPACE,
  SDK_BY_TYPE,
  apiVersionProblems,
  installedVersion,
  knownApiVersions,
  lockedVersion,
  parameterProblems,
  roleAssignments,
  roleProblems,
  secretProblems,
  secretValueProblems,
  structureProblems,
} from './checks';

const TEMPLATE_FILES = ['main.json', 'event-subscriptions.json'];
const PARAMETER_FILES = readdirSync(INFRA_DIR).filter((f) => f.endsWith('.parameters.json'));
const main = loadTemplate('main.json');
const mainLevels = templateLevels('main.json');
const eventLevels = templateLevels('event-subscriptions.json');

/** A minimal valid template to break in the negative cases. */
function brokenTemplate(patch: (t: JsonObject) => void): TemplateLevel[] {
  const t: JsonObject = {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    parameters: { name: { type: 'string', metadata: { description: 'Name of the identity.' } } },
    variables: { roles: { reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7' } },
    resources: [
      {
        type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
        apiVersion: '2024-11-30',
        name: "[parameters('name')]",
        location: 'westeurope',
      },
    ],
    outputs: {},
  };
  patch(t);
  return templateLevels('broken.json', t as ArmTemplate);
}

function roleAssignment(roleDefinitionId: string, extra: JsonObject = {}): JsonObject {
  return {
    type: 'Microsoft.Authorization/roleAssignments',
    apiVersion: '2022-04-01',
    name: "[guid(resourceGroup().id, 'x')]",
    metadata: { description: 'Reader on the resource group: reads everything in it for the sake of a test.' },
    properties: { roleDefinitionId, principalId: "[parameters('name')]", principalType: 'ServicePrincipal' },
    ...extra,
  };
}

describe('ARM template structure', () => {
  it.each(TEMPLATE_FILES)('%s is a valid template at every nesting level', (file) => {
    expect(structureProblems(templateLevels(file))).toEqual([]);
  });

  it('main.json deploys at subscription scope (the vault group and role assignments span resource groups and subscriptions)', () => {
    expect(main.$schema).toContain('subscriptionDeploymentTemplate.json');
    const labels = mainLevels.map((l) => l.label);
    expect(labels).toEqual([
      'main.json',
      "main.json > variables('appDeploymentName')",
      "main.json > format('ade-autopilot-target-{0}', variables('targetSubscriptionIds')[copyIndex()])",
      "main.json > format('ade-autopilot-target-{0}', variables('targetSubscriptionIds')[copyIndex()]) > ade-autopilot-vault-group",
      'main.json > ade-autopilot-operator',
      'main.json > ade-autopilot-diagnostics-workspace',
      'main.json > ade-autopilot-outcome-topic',
    ]);
  });

  it('reports a resource without an api-version, an unparseable expression and an unknown function', () => {
    const levels = brokenTemplate((t) => {
      (t.resources as JsonObject[]).push({ type: 'Microsoft.Storage/storageAccounts', name: "[concat('a']", apiVersion: '' });
      (t.resources as JsonObject[])[0]!.tags = "[createObjet('a', 'b')]";
    });
    const problems = structureProblems(levels);
    expect(problems.some((p) => p.includes('createobjet() is not an ARM template function'))).toBe(true);
    expect(problems.some((p) => p.includes('no apiVersion'))).toBe(true);
    expect(problems.some((p) => p.includes('expected'))).toBe(true);
  });
});

describe('parameters and variables', () => {
  it.each(TEMPLATE_FILES)('%s: every parameter is described and used, every reference is declared', (file) => {
    expect(parameterProblems(templateLevels(file))).toEqual([]);
  });

  it('reports an unused parameter, an undescribed one and an undeclared reference', () => {
    const levels = brokenTemplate((t) => {
      objectOf(t.parameters).unused = { type: 'string', metadata: { description: 'Never referenced anywhere.' } };
      objectOf(t.parameters).bare = { type: 'string' };
      (t.resources as JsonObject[])[0]!.tags = { owner: "[parameters('bare')]", team: "[parameters('ghost')]" };
    });
    expect(parameterProblems(levels)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('parameter unused is never used'),
        expect.stringContaining('parameter bare has no description'),
        expect.stringContaining("parameters('ghost') is not declared"),
        expect.stringContaining('variable roles is never used'),
      ]),
    );
  });

  it.each(PARAMETER_FILES)('%s sets only declared parameters, with values the template accepts', (file) => {
    const parametersFile = loadJson(file);
    expect(parametersFile.$schema).toBe('https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#');
    const declared = objectOf(main.parameters);
    const entries = Object.entries(objectOf(parametersFile.parameters));
    expect(entries.length).toBeGreaterThan(0);
    for (const [name, raw] of entries) {
      const parameter = objectOf(declared[name]);
      expect(parameter, `${file}: ${name} is not a parameter of main.json`).not.toEqual({});
      const value = objectOf(raw).value as Json;
      const type = String(parameter.type);
      const actualType = Array.isArray(value)
        ? 'array'
        : value === null
          ? 'null'
          : typeof value === 'number'
            ? 'int'
            : typeof value === 'boolean'
              ? 'bool'
              : typeof value;
      expect(actualType, `${file}: ${name}`).toBe(type === 'securestring' ? 'string' : type);
      if (Array.isArray(parameter.allowedValues)) expect(parameter.allowedValues, `${file}: ${name}`).toContain(value);
      if (typeof parameter.minValue === 'number') expect(value as number).toBeGreaterThanOrEqual(parameter.minValue);
      if (typeof parameter.maxValue === 'number') expect(value as number).toBeLessThanOrEqual(parameter.maxValue);
      expect(secretValueProblems(`${file}: ${name}`, value)).toEqual([]);
    }
  });
});

describe('api-versions are known by the locked @azure/arm-* SDK of each resource provider', () => {
  const namespaces = [
    ...new Set(
      allResources([...mainLevels, ...eventLevels])
        .filter(({ resource }) => !(resource.type.toLowerCase() in API_VERSIONS_WITHOUT_SDK))
        .map(({ resource }) => resource.type.split('/')[0]!.toLowerCase()),
    ),
  ].sort();

  it.each(namespaces)('%s maps to an installed SDK whose version matches the lock file', (namespace) => {
    const pkg = SDK_BY_NAMESPACE[namespace];
    expect(pkg, `no SDK mapped for ${namespace}`).toBeDefined();
    expect(lockedVersion(pkg!)).toBeDefined();
    expect(installedVersion(pkg!)).toBe(lockedVersion(pkg!));
    expect(knownApiVersions(pkg!).size).toBeGreaterThan(0);
  });

  it.each(TEMPLATE_FILES)('%s uses only api-versions its SDKs know, also in reference()/listKeys()', (file) => {
    expect(apiVersionProblems(templateLevels(file))).toEqual([]);
  });

  it('the types without a JavaScript SDK are exact types of namespaces no SDK covers, each with its ARM template reference', () => {
    const types = Object.keys(API_VERSIONS_WITHOUT_SDK);
    expect(types.sort()).toEqual(['microsoft.durabletask/schedulers', 'microsoft.durabletask/schedulers/taskhubs']);
    for (const type of types) {
      const { versions, reference } = API_VERSIONS_WITHOUT_SDK[type]!;
      expect(SDK_BY_NAMESPACE[type.split('/')[0]!], type).toBeUndefined();
      expect(SDK_BY_TYPE[type], type).toBeUndefined();
      expect(versions.length).toBeGreaterThan(0);
      for (const version of versions) expect(version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(reference).toBe(
        `https://learn.microsoft.com/azure/templates/${type.split('/')[0]}/${versions[0]}/${type.split('/').slice(1).join('/')}`,
      );
    }
    // Every listed type is deployed by main.json, with a listed version.
    const deployed = allResources(mainLevels).filter(({ resource }) => resource.type.toLowerCase() in API_VERSIONS_WITHOUT_SDK);
    expect(deployed.map(({ resource }) => `${resource.type}@${resource.apiVersion}`).sort()).toEqual([
      'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01',
      'Microsoft.DurableTask/schedulers@2025-11-01',
    ]);
  });

  it.each([
    ['an unlisted version of a listed type', 'Microsoft.DurableTask/schedulers', '2024-10-01-preview', 'is not a documented api-version'],
    [
      'a listed version of an unlisted type of the same namespace',
      'Microsoft.DurableTask/schedulers/retentionPolicies',
      '2025-11-01',
      'no SDK package mapped for Microsoft.DurableTask/schedulers/retentionPolicies',
    ],
  ])('still reports %s', (_label, type, apiVersion, message) => {
    const levels = brokenTemplate((t) => {
      (t.resources as JsonObject[]).push({ type, apiVersion, name: 'x', properties: {} });
    });
    expect(apiVersionProblems(levels).join('\n')).toContain(message);
  });

  it('reports an api-version the SDK does not know and a reference() with a stray version', () => {
    const levels = brokenTemplate((t) => {
      (t.resources as JsonObject[])[0]!.apiVersion = '2015-08-31-preview';
      t.outputs = { id: { type: 'string', value: "[reference(parameters('name'), '2018-11-30').principalId]" } };
    });
    const problems = apiVersionProblems(levels);
    expect(problems.some((p) => p.includes('Microsoft.ManagedIdentity/userAssignedIdentities@2015-08-31-preview'))).toBe(true);
    expect(problems.some((p) => p.includes('reference() uses api-version 2018-11-30'))).toBe(true);
  });
});

describe('role assignments: least privilege with real built-in role ids', () => {
  const assignments = roleAssignments(mainLevels);

  it('the built-in role table holds the well-known ids', () => {
    // Spot checks that would catch a typo in the table itself.
    expect(BUILT_IN_ROLES['8e3af657-a8ff-443c-a75c-2fe8c4bcb635']?.name).toBe('Owner');
    expect(BUILT_IN_ROLES['b24988ac-6180-42a0-ab88-20f7382dd24c']?.name).toBe('Contributor');
    expect(BUILT_IN_ROLES['acdd72a7-3385-48ef-bd42-f606fba81ae7']?.name).toBe('Reader');
    for (const id of Object.keys(BUILT_IN_ROLES)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('grants exactly these roles at exactly these scopes', () => {
    const summary = assignments.map((a) => `${a.roleName} @ ${a.scope}${a.condition ? ` if ${a.condition}` : ''}`).sort();
    expect(summary).toEqual(
      [
        'ADE Autopilot VM encryption operator @ subscription',
        "ADE Autopilot VM restart @ subscription if [parameters('enableSelfHealingRestart')]",
        "ADE Autopilot vault diagnostics @ vault resource group if [parameters('vaultDiagnostics')]",
        'ADE Autopilot diagnostics destination @ diagnostics workspace',
        'EventGrid Contributor @ vault resource group',
        'EventGrid Data Sender @ outcome topic',
        'Key Vault Contributor @ vault resource group',
        "Managed Identity Operator @ app identity if [equals(parameters('eventWiring'), 'auto')]",
        'Monitoring Metrics Publisher @ application insights',
        'Storage Blob Data Owner @ storage account',
        'Storage Queue Data Contributor @ storage account',
        'Storage Table Data Contributor @ storage account',
        'Website Contributor @ function app',
        "Durable Task Data Contributor @ durable task hub if [variables('useScheduler')]",
      ].sort(),
    );
  });

  it('EventGrid Data Sender on the outcome topic only, and only when outcomeTopicResourceId names one', () => {
    const deployment = resourcesOf(main).find((r) => r.name === 'ade-autopilot-outcome-topic')!;
    expect(deployment.condition).toBe("[not(empty(parameters('outcomeTopicResourceId')))]");
    expect(deployment.subscriptionId).toContain("split(parameters('outcomeTopicResourceId'), '/')[2]");
    expect(deployment.resourceGroup).toContain("split(parameters('outcomeTopicResourceId'), '/')[4]");
    const sender = assignments.filter((a) => a.roleName === 'EventGrid Data Sender');
    expect(sender.map((a) => [a.scope, String(a.resource.scope)])).toEqual([
      ['outcome topic', "[format('Microsoft.EventGrid/topics/{0}', parameters('topicName'))]"],
    ]);
  });

  it('no Owner, User Access Administrator or anything broader than Contributor; custom roles without wildcards; each justified', () => {
    expect(roleProblems(mainLevels)).toEqual([]);
  });

  it('deallocate/start only through the conditional restart role', () => {
    const restartActions = ['Microsoft.Compute/virtualMachines/deallocate/action', 'Microsoft.Compute/virtualMachines/start/action'];
    for (const a of assignments) {
      const hasRestart = a.actions.some((action) => restartActions.includes(action));
      if (a.roleName.startsWith('ADE Autopilot VM restart')) {
        expect(a.actions.sort()).toEqual(restartActions.sort());
        expect(a.condition).toBe("[parameters('enableSelfHealingRestart')]");
      } else {
        expect(hasRestart, a.roleName).toBe(false);
      }
    }
    const restartDefinition = allResources(mainLevels).find(
      ({ resource }) => resource.type === 'Microsoft.Authorization/roleDefinitions' && resource.name === "[variables('vmRestartRoleName')]",
    );
    expect(restartDefinition?.resource.condition).toBe("[parameters('enableSelfHealingRestart')]");
  });

  it('the VM operator role reads VMs and scale sets, writes the extension, updates the VM model; one action: manual upgrade', () => {
    const operator = assignments.find((a) => a.roleName === 'ADE Autopilot VM encryption operator')!;
    expect(operator.actions).toEqual(
      expect.arrayContaining([
        'Microsoft.Compute/virtualMachines/read',
        'Microsoft.Compute/virtualMachines/write',
        'Microsoft.Compute/virtualMachines/extensions/write',
      ]),
    );
    for (const action of operator.actions.filter((a) => !a.startsWith('Microsoft.Compute/'))) {
      expect([
        'Microsoft.KeyVault/checkNameAvailability/read',
        'Microsoft.KeyVault/locations/deletedVaults/read',
        'Microsoft.Features/providers/features/read',
      ]).toContain(action);
    }
    // The one action: bringing a Manual scale set's instances to the model (encryptVmss), no delete.
    expect(operator.actions.filter((a) => /\/(delete|action)$/.test(a))).toEqual([
      'Microsoft.Compute/virtualMachineScaleSets/manualUpgrade/action',
    ]);
  });

  it.each([
    ['Owner', '8e3af657-a8ff-443c-a75c-2fe8c4bcb635', 'may manage access'],
    ['User Access Administrator', '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9', 'may manage access'],
    ['Contributor', 'b24988ac-6180-42a0-ab88-20f7382dd24c', 'Contributor is never needed'],
    ['an unknown id', '11111111-2222-3333-4444-555555555555', 'not a known built-in role id'],
  ])('reports %s', (_label, id, message) => {
    const levels = brokenTemplate((t) => {
      objectOf(t.variables).roles = { bad: id };
      (t.resources as JsonObject[]).push(
        roleAssignment("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('roles').bad)]"),
      );
    });
    expect(roleProblems(levels).join('\n')).toContain(message);
  });

  it('reports a wildcard custom role and a role id whose variable names another role', () => {
    const wildcard = brokenTemplate((t) => {
      objectOf(t.variables).customName = "[guid('x')]";
      (t.resources as JsonObject[]).push(
        {
          type: 'Microsoft.Authorization/roleDefinitions',
          apiVersion: '2022-04-01',
          name: "[variables('customName')]",
          properties: { roleName: 'Everything', permissions: [{ actions: ['Microsoft.Compute/*'] }] },
        },
        roleAssignment("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('customName'))]"),
      );
    });
    expect(roleProblems(wildcard).join('\n')).toContain('wildcard action Microsoft.Compute/*');
    const misnamed = brokenTemplate((t) => {
      objectOf(t.variables).roles = { keyVaultContributor: 'acdd72a7-3385-48ef-bd42-f606fba81ae7' };
      (t.resources as JsonObject[]).push(
        roleAssignment("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('roles').keyVaultContributor)]"),
      );
    });
    expect(roleAssignments(misnamed)[0]!.roleName).toBe('Reader (but the variable says keyVaultContributor)');
    expect(roleProblems(misnamed).join('\n')).toContain('description must start with the role name');
  });
});

// ---------------------------------------------------------------------------------------------------------
// App settings vs core/config.ts

/** Settings the Functions host or platform reads (not core/config.ts), each with why it is there. */
const PLATFORM_SETTINGS: Readonly<Record<string, string>> = {
  AzureWebJobsStorage__accountName: 'host storage and Durable task hub, identity-based',
  AzureWebJobsStorage__credential: 'identity-based host storage',
  AzureWebJobsStorage__clientId: 'which user-assigned identity the host uses',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'telemetry destination',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'telemetry with Entra auth (local auth is disabled)',
  FUNCTIONS_EXTENSION_VERSION: 'Elastic Premium runtime version (Flex rejects it)',
  FUNCTIONS_WORKER_RUNTIME: 'Elastic Premium worker (Flex rejects it)',
  WEBSITE_RUN_FROM_PACKAGE: 'Elastic Premium runs the zip-deployed package',
  WEBSITE_CONTENTSHARE: 'Elastic Premium content share',
  WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: 'Elastic Premium content share (Azure Files needs a key)',
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Durable Task Scheduler endpoint and identity (durableBackend DurableTaskScheduler)',
  TASKHUB_NAME: 'Durable Task Scheduler task hub, host.json hubName %TASKHUB_NAME% (durableBackend DurableTaskScheduler)',
};

interface AppSettings {
  /** Setting name -> its value expression (or literal). */
  values: Map<string, string>;
}

/**
 * Resolves the Function App's siteConfig.appSettings — map(items(<settings object>), name/value lambda) — into
 * setting names and value expressions, following parameters('adeSettings') up to the outer template.
 */
function appSettingsOf(levels: TemplateLevel[]): AppSettings {
  const found = allResources(levels).filter(({ resource }) => resource.type === 'Microsoft.Web/sites');
  expect(found).toHaveLength(1);
  expect(allResources(levels).filter(({ resource }) => resource.type === 'Microsoft.Web/sites/config')).toEqual([]);
  const { level, resource } = found[0]!;
  const values = new Map<string, string>();
  const text = String(objectOf(objectOf(resource.properties).siteConfig).appSettings);
  const source = text.slice(1, -1);
  const mapped = parseExpression(text);
  // The name/value conversion must be the plain one: every key becomes a setting with its value.
  expect(mapped.kind === 'call' && mapped.name === 'map' ? render(mapped.args[1]!, source) : text).toBe(
    "lambda('setting', createobject('name', lambdavariables('setting').key, 'value', lambdavariables('setting').value))",
  );
  const items = (mapped as Extract<Expr, { kind: 'call' }>).args[0]!;
  expect(items.kind === 'call' && items.name).toBe('items');
  const add = (expr: Expr): void => {
    if (expr.kind !== 'call') throw new Error('app settings must be built from createObject/union/if/parameters');
    if (expr.name === 'union') return expr.args.forEach(add);
    if (expr.name === 'if') return [expr.args[1]!, expr.args[2]!].forEach(add);
    if (expr.name === 'createobject') {
      createObjectKeys(expr).forEach((key, i) => values.set(key, render(expr.args[i * 2 + 1]!, source)));
      return;
    }
    if (expr.name === 'parameters') {
      const name = (expr.args[0] as { value: string }).value;
      const passed = objectOf(objectOf(objectOf(level.deployment?.properties).parameters)[name]).value;
      const variable = /^\[variables\('([^']+)'\)\]$/.exec(String(passed));
      const object = variable ? objectOf(objectOf(level.parent?.template.variables)[variable[1]!]) : objectOf(passed);
      for (const [key, value] of Object.entries(object)) values.set(key, String(value));
      return;
    }
    throw new Error(`unexpected ${expr.name}() in app settings`);
  };
  add((items as Extract<Expr, { kind: 'call' }>).args[0]!);
  return { values };
}

/** Compact text of a sub-expression, for assertions. */
function render(expr: Expr, _source: string): string {
  switch (expr.kind) {
    case 'string':
      return `'${expr.value}'`;
    case 'number':
      return String(expr.value);
    case 'call':
      return `${expr.name}(${expr.args.map((a) => render(a, _source)).join(', ')})`;
    case 'property':
      return `${render(expr.target, _source)}.${expr.property}`;
    case 'index':
      return `${render(expr.target, _source)}[${render(expr.index, _source)}]`;
  }
}

/** Enumerations in CONFIG_SETTINGS `values` such as "`aad` | `single-pass`". */
function enumeratedValues(values: string): string[] | undefined {
  return /^`[^`]+`(\s*\|\s*`[^`]+`)*$/.test(values.trim()) ? [...values.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) : undefined;
}

describe('app settings equal what core/config.ts reads', () => {
  const settings = appSettingsOf(mainLevels);
  const appNames = [...settings.values.keys()];
  // Local-only settings (scope 'local', e.g. the local host's secretEvents webhook) must never be deployed.
  const appScoped = CONFIG_SETTINGS.filter((s) => s.scope === 'app');
  const configNames = appScoped.map((s) => s.name);
  const localNames = CONFIG_SETTINGS.filter((s) => s.scope === 'local').map((s) => s.name);
  const parameters = objectOf(main.parameters);

  it('every app-scoped setting the configuration module reads is set, and every other setting is a documented platform setting', () => {
    expect(appNames.filter((n) => !(n in PLATFORM_SETTINGS)).sort()).toEqual([...configNames].sort());
    expect(CONFIG_SETTINGS.map((s) => s.name).filter((n) => n in PLATFORM_SETTINGS)).toEqual([]);
  });

  it('no local-only setting is deployed', () => {
    expect(localNames.length).toBeGreaterThan(0);
    expect(appNames.filter((n) => localNames.includes(n))).toEqual([]);
  });

  it('the identity settings point at the user-assigned identity', () => {
    for (const name of ['AZURE_CLIENT_ID', 'AzureWebJobsStorage__clientId']) {
      expect(settings.values.get(name)).toMatch(
        /^reference\(resourceid\('Microsoft\.ManagedIdentity\/userAssignedIdentities'.*\)\.clientId$/,
      );
    }
    expect(settings.values.get('ADE_AUTH_MODE')).toBe('managed-identity');
    expect(settings.values.get('ADE_SUBSCRIPTIONS')).toBe("[join(variables('targetSubscriptionIds'), ',')]");
  });

  it("ADE_FUNCTION_APP_RESOURCE_ID is the Function App's own resource id (Flex Consumption sets no WEBSITE_RESOURCE_GROUP)", () => {
    expect(settings.values.get('ADE_FUNCTION_APP_RESOURCE_ID')).toMatch(
      /^resourceId\('Microsoft\.Web\/sites', variables\('functionAppName'\)\)$/i,
    );
  });

  it("ADE_VAULT_NAME_SALT is generated per deployment from the identity's principal id, which a subscription id does not reveal", () => {
    expect(settings.values.get('ADE_VAULT_NAME_SALT')).toMatch(
      /^uniqueString\(reference\(resourceId\('Microsoft\.ManagedIdentity\/userAssignedIdentities', variables\('identityName'\)\), '[0-9-]+'\)\.principalId, subscription\(\)\.subscriptionId\)$/i,
    );
  });

  it("ADE_DEAD_LETTER_CONTAINER_ID is the app storage account's dead-letter container (the vault subscriptions the app creates)", () => {
    expect(settings.values.get('ADE_DEAD_LETTER_CONTAINER_ID')).toBe(
      "format('{0}/blobServices/default/containers/{1}', resourceid('Microsoft.Storage/storageAccounts', variables('storageName')), " +
        "parameters('deadLetterContainerName'))",
    );
  });

  const parameterDriven = appScoped.filter(
    (s) =>
      ![
        'ADE_AUTH_MODE',
        'AZURE_CLIENT_ID',
        'ADE_SUBSCRIPTIONS',
        'ADE_FUNCTION_APP_RESOURCE_ID',
        'ADE_VAULT_NAME_SALT',
        'ADE_DEAD_LETTER_CONTAINER_ID',
        'ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID',
        'ADE_EVENTS_IDENTITY_RESOURCE_ID',
        'ADE_EVENTS_LOCATION',
      ].includes(s.name),
  );

  it("ADE_EVENTS_IDENTITY_RESOURCE_ID is the app's identity and ADE_EVENTS_LOCATION the deployment's region", () => {
    expect(settings.values.get('ADE_EVENTS_IDENTITY_RESOURCE_ID')).toBe(
      "resourceid('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName'))",
    );
    expect(settings.values.get('ADE_EVENTS_LOCATION')).toBe("[parameters('location')]");
  });

  it.each(parameterDriven.map((s) => [s.name, s] as const))(
    '%s comes from one parameter with the same default and the same allowed values',
    (name, setting) => {
      const value = settings.values.get(name)!;
      const referenced = referencedParameters(parseExpression(value));
      expect(referenced, `${name} = ${value}`).toHaveLength(1);
      const parameter = objectOf(parameters[referenced[0]!]);
      const type = String(parameter.type);
      // Booleans and integers are converted with toLower(string()) / string(): check the conversion too.
      if (type === 'bool') expect(value).toMatch(/^\[toLower\(string\(parameters\('[^']+'\)\)\)\]$/);
      if (type === 'int') expect(value).toMatch(/^\[string\(parameters\('[^']+'\)\)\]$/);
      if (type === 'string') expect(value).toMatch(/^\[parameters\('[^']+'\)\]$/);
      expect(String(parameter.defaultValue)).toBe(setting.default ?? '');
      const allowed = enumeratedValues(setting.values);
      if (allowed && type === 'bool') expect(allowed.sort()).toEqual(['false', 'true']);
      else if (allowed)
        expect((parameter.allowedValues as Json[] | undefined)?.map(String).sort(), `${name} allowedValues`).toEqual(allowed.sort());
      const range = /^integer (\d+)[–-](\d+)/.exec(setting.values);
      if (range) expect([parameter.minValue, parameter.maxValue]).toEqual([Number(range[1]), Number(range[2])]);
      const length = /(\d+)[–-](\d+) chars/.exec(setting.values);
      if (length) expect([parameter.minLength, parameter.maxLength]).toEqual([Number(length[1]), Number(length[2])]);
    },
  );

  it('ADE_SUBSCRIPTIONS defaults to the deployment subscription when no target subscriptions are given', () => {
    expect(objectOf(main.variables).targetSubscriptionIds).toBe(
      "[if(empty(parameters('targetSubscriptionIds')), createArray(subscription().subscriptionId), parameters('targetSubscriptionIds'))]",
    );
    expect(objectOf(parameters.targetSubscriptionIds).defaultValue).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Event Grid

interface SubscriptionFilter {
  functionName: string;
  topicParameter: string;
  eventTypes: string[];
  advancedFilters: JsonObject[];
  resource: JsonObject;
}

function eventSubscriptions(levels: TemplateLevel[]): SubscriptionFilter[] {
  return allResources(levels)
    .filter(({ resource }) => resource.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions')
    .map(({ resource }) => {
      const properties = objectOf(resource.properties);
      const destination = objectOf(properties.destination);
      const target = String(objectOf(destination.properties).resourceId);
      const functionName = /\/functions\/([A-Za-z0-9]+)'/.exec(target)?.[1] ?? `unparsed: ${target}`;
      const filter = objectOf(properties.filter);
      const topicParameter = referencedParameters(parseExpression(String(resource.name)))[0]!;
      expect(destination.endpointType).toBe('AzureFunction');
      return {
        functionName,
        topicParameter,
        eventTypes: filter.includedEventTypes as string[],
        advancedFilters: (filter.advancedFilters ?? []) as JsonObject[],
        resource,
      };
    });
}

describe('Event Grid filters match the events each function accepts', () => {
  const subscriptions = eventSubscriptions(eventLevels);
  const templateRoutes = Object.keys(EVENT_ROUTES).filter((name) => name !== 'secretEvents');

  it('one subscription per template-managed Event Grid function; secretEvents subscriptions are made by the app per vault', () => {
    expect(subscriptions.map((s) => s.functionName).sort()).toEqual(templateRoutes.sort());
    expect(templateRoutes).toHaveLength(Object.keys(EVENT_ROUTES).length - 1);
  });

  // The configuration as event-subscriptions.json receives it: ARM expressions over its parameters.
  const TEMPLATE_CONFIGURATION = {
    policyDefinitionIds: ["[parameters('policyDefinitionIds')]"],
    vaultResourceGroup: '{0}',
  };
  const templateForm = (filters: AdvancedFilter[]) =>
    filters.map((f) => ({
      ...f,
      values:
        f.key === 'data.policyDefinitionId'
          ? TEMPLATE_CONFIGURATION.policyDefinitionIds[0]
          : f.values.map((v) => (v.includes('{0}') ? `[format('${v}', parameters('vaultResourceGroupName'))]` : v)),
    }));

  it.each(templateRoutes)('%s: included event types and advanced filters equal EVENT_ROUTES', (name) => {
    const route: EventRoute = EVENT_ROUTES[name as keyof typeof EVENT_ROUTES];
    const subscription = subscriptions.find((s) => s.functionName === name)!;
    expect([...subscription.eventTypes].sort()).toEqual([...route.eventTypes].sort());
    expect(subscription.advancedFilters).toEqual(templateForm(advancedFilters(route, TEMPLATE_CONFIGURATION)));
  });

  it('policyStates gets only NonCompliant states of the configured definitions; armDrift only the managed vaults', () => {
    const policy = subscriptions.find((s) => s.functionName === 'policyStates')!;
    expect(policy.advancedFilters).toContainEqual({ operatorType: 'StringIn', key: 'data.complianceState', values: ['NonCompliant'] });
    expect(policy.advancedFilters).toContainEqual({
      operatorType: 'StringIn',
      key: 'data.policyDefinitionId',
      values: "[parameters('policyDefinitionIds')]",
    });
    // main.json hands ADE_POLICY_DEFINITION_IDS (a comma-separated string) on as an array.
    expect(objectOf(objectOf(main.outputs).policyDefinitionIds)).toEqual({
      type: 'array',
      value: "[map(split(parameters('policyDefinitionIds'), ','), lambda('id', trim(lambdaVariables('id'))))]",
    });
    const drift = subscriptions.find((s) => s.functionName === 'armDrift')!;
    expect(drift.advancedFilters).toContainEqual({
      operatorType: 'StringContains',
      key: 'subject',
      values: [
        '/providers/Microsoft.Compute/virtualMachines/',
        "[format('/resourceGroups/{0}/providers/Microsoft.KeyVault/vaults/', parameters('vaultResourceGroupName'))]",
      ],
    });
  });

  it('Resource Manager functions listen on the subscription topic, policyStates on the Policy Insights topic', () => {
    const topicOf = Object.fromEntries(subscriptions.map((s) => [s.functionName, s.topicParameter]));
    expect(topicOf).toEqual({
      vmWritten: 'resourceEventsTopicName',
      armDrift: 'resourceEventsTopicName',
      policyStates: 'policyEventsTopicName',
    });
    const topics = allResources(mainLevels).filter(({ resource }) => resource.type === 'Microsoft.EventGrid/systemTopics');
    const byName = Object.fromEntries(topics.map(({ resource }) => [resource.name, objectOf(resource.properties)]));
    expect(byName["[parameters('resourceEventsTopicName')]"]).toEqual({
      source: '[subscription().id]',
      topicType: 'Microsoft.Resources.Subscriptions',
    });
    expect(byName["[parameters('policyEventsTopicName')]"]).toEqual({
      source: '[subscription().id]',
      topicType: 'Microsoft.PolicyInsights.PolicyStates',
    });
  });

  it('every subscription has a retry policy and an identity-based dead-letter container', () => {
    for (const s of subscriptions) {
      const properties = objectOf(s.resource.properties);
      expect(properties.retryPolicy).toBe("[parameters('deliveryPolicy').retryPolicy]");
      expect(properties.deadLetterWithResourceIdentity).toBe("[parameters('deliveryPolicy').deadLetterWithResourceIdentity]");
    }
    const deployment = resourcesOf(loadTemplate('event-subscriptions.json'))[0]!;
    const policy = objectOf(objectOf(objectOf(objectOf(deployment.properties).parameters).deliveryPolicy).value);
    expect(objectOf(policy.retryPolicy)).toEqual({
      maxDeliveryAttempts: "[parameters('maxDeliveryAttempts')]",
      eventTimeToLiveInMinutes: "[parameters('eventTimeToLiveInMinutes')]",
    });
    const deadLetter = objectOf(policy.deadLetterWithResourceIdentity);
    expect(objectOf(deadLetter.identity).type).toBe('UserAssigned');
    expect(objectOf(deadLetter.deadLetterDestination).endpointType).toBe('StorageBlob');
  });

  it('a subscription that already has a Resource Manager system topic gets none: its subscriptions go on the existing one', () => {
    // main.json: the topic is conditional on the subscription not being in existingResourceEventsTopics.
    const topic = allResources(mainLevels).find(
      ({ resource }) => resource.type === 'Microsoft.EventGrid/systemTopics' && resource.name === "[parameters('resourceEventsTopicName')]",
    )!;
    expect(topic.resource.condition).toBe("[parameters('createResourceEventsTopic')]");
    const target = resourcesOf(main).find((r) => String(r.name).includes('ade-autopilot-target-'))!;
    expect(objectOf(objectOf(objectOf(target.properties).parameters).createResourceEventsTopic).value).toBe(
      "[not(contains(parameters('existingResourceEventsTopics'), variables('targetSubscriptionIds')[copyIndex()]))]",
    );
    expect(objectOf(objectOf(main.outputs).existingResourceEventsTopics).value).toBe("[parameters('existingResourceEventsTopics')]");
    // event-subscriptions.json: vmWritten and armDrift live in a deployment to the topic's own resource group.
    const perSubscription = resourcesOf(loadTemplate('event-subscriptions.json'))[0]!;
    expect(objectOf(objectOf(objectOf(perSubscription.properties).parameters).resourceEventsTopic).value).toBe(
      "[if(contains(parameters('existingResourceEventsTopics'), parameters('targetSubscriptionIds')[copyIndex()]), " +
        "parameters('existingResourceEventsTopics')[parameters('targetSubscriptionIds')[copyIndex()]], " +
        "createObject('resourceGroup', parameters('vaultResourceGroupName'), 'name', parameters('resourceEventsTopicName')))]",
    );
    const resourceEvents = eventLevels.find((level) => level.deployment?.name === 'ade-autopilot-resource-events')!;
    expect(resourceEvents.deployment!.resourceGroup).toBe("[parameters('resourceEventsTopic').resourceGroup]");
    expect(objectOf(objectOf(objectOf(resourceEvents.deployment!.properties).parameters).resourceEventsTopicName).value).toBe(
      "[parameters('resourceEventsTopic').name]",
    );
    const inNested = eventSubscriptions([resourceEvents]).map((s) => s.functionName);
    expect(inNested.sort()).toEqual(['armDrift', 'vmWritten']);
  });

  it('the event-subscription parameters are exactly the main template outputs deploy.sh passes on', () => {
    const eventParameters = Object.keys(objectOf(loadTemplate('event-subscriptions.json').parameters));
    const withDefaults = ['maxDeliveryAttempts', 'eventTimeToLiveInMinutes'];
    const outputs = Object.keys(objectOf(main.outputs));
    for (const name of eventParameters.filter((n) => !withDefaults.includes(n))) expect(outputs).toContain(name);
  });
});

describe('vault options', () => {
  it('a CanNotDelete lock on the vault resource group, off by default', () => {
    const locks = allResources(mainLevels).filter(({ resource }) => resource.type === 'Microsoft.Authorization/locks');
    expect(
      locks.map(({ level, resource }) => [level.label.split(' > ').pop(), resource.condition, objectOf(resource.properties).level]),
    ).toEqual([['ade-autopilot-vault-group', "[parameters('lockVaultResourceGroup')]", 'CanNotDelete']]);
    expect(objectOf(objectOf(main.parameters).lockVaultResourceGroup).defaultValue).toBe(false);
  });

  const mainParameters = objectOf(main.parameters);
  const diagnostics = roleAssignments(mainLevels).filter((a) => /diagnostics/.test(a.roleName));

  it("vault diagnostics: off by default; on, the app setting is the given workspace or the template's own", () => {
    expect([
      objectOf(mainParameters.vaultDiagnostics).defaultValue,
      objectOf(mainParameters.vaultDiagnosticsWorkspaceId).defaultValue,
    ]).toEqual([false, '']);
    expect(objectOf(objectOf(main.variables).adeSettings).ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID).toBe(
      "[variables('vaultDiagnosticsWorkspaceId')]",
    );
    const workspace = objectOf(main.variables).vaultDiagnosticsWorkspaceId;
    expect(workspace).toBe(
      "[if(parameters('vaultDiagnostics'), if(empty(parameters('vaultDiagnosticsWorkspaceId')), " +
        "format('/subscriptions/{0}/resourceGroups/{1}/providers/Microsoft.OperationalInsights/workspaces/log-{2}', " +
        "subscription().subscriptionId, parameters('appResourceGroupName'), parameters('baseName')), " +
        "parameters('vaultDiagnosticsWorkspaceId')), '')]",
    );
    // The template's own workspace is the one the app deployment creates.
    const app = mainLevels.find((l) => l.label === "main.json > variables('appDeploymentName')")!;
    expect(objectOf(app.template.variables).workspaceName).toBe("[format('log-{0}', parameters('baseName'))]");
  });

  it('vault diagnostics: two custom roles, only when on, each at its one narrow scope with exactly its actions', () => {
    expect(diagnostics.map((a) => [a.roleName, a.scope, a.condition, a.actions])).toEqual([
      [
        'ADE Autopilot vault diagnostics',
        'vault resource group',
        "[parameters('vaultDiagnostics')]",
        ['Microsoft.Insights/diagnosticSettings/read', 'Microsoft.Insights/diagnosticSettings/write'],
      ],
      [
        'ADE Autopilot diagnostics destination',
        'diagnostics workspace',
        undefined,
        ['Microsoft.OperationalInsights/workspaces/sharedKeys/action'],
      ],
    ]);
    // The destination role lives in a deployment that exists only when on, in the workspace's own subscription and group.
    const deployment = resourcesOf(main).find((r) => r.name === 'ade-autopilot-diagnostics-workspace')!;
    expect(deployment.condition).toBe("[parameters('vaultDiagnostics')]");
    expect(deployment.subscriptionId).toContain("split(variables('vaultDiagnosticsWorkspaceId'), '/')[2]");
    expect(deployment.resourceGroup).toContain("split(variables('vaultDiagnosticsWorkspaceId'), '/')[4]");
    expect(String(diagnostics[1]!.resource.scope)).toBe(
      "[format('Microsoft.OperationalInsights/workspaces/{0}', parameters('workspaceName'))]",
    );
    // The vault group's role is assignable there only; the flag reaches the vault group through the target deployment.
    const vaultGroup = mainLevels.find((l) => l.label.endsWith('> ade-autopilot-vault-group'))!;
    const definition = resourcesOf(vaultGroup.template).find((r) => r.type === 'Microsoft.Authorization/roleDefinitions')!;
    expect([definition.condition, objectOf(definition.properties).assignableScopes]).toEqual([
      "[parameters('vaultDiagnostics')]",
      ['[resourceGroup().id]'],
    ]);
    expect(objectOf(objectOf(objectOf(vaultGroup.deployment!.properties).parameters).vaultDiagnostics).value).toBe(
      "[parameters('vaultDiagnostics')]",
    );
  });
});

describe('runtime: Node 22 (Node 20 reached end of life on 2026-04-30)', () => {
  const site = allResources(mainLevels).find(({ resource }) => resource.type === 'Microsoft.Web/sites')!;
  const appLevel = site.level.template;

  it('the app level pins one Node version, 22, for both plans', () => {
    expect(objectOf(appLevel.variables).nodeVersion).toBe('22');
    const properties = objectOf(site.resource.properties);
    expect(objectOf(properties.siteConfig).linuxFxVersion).toBe(
      "[if(variables('isFlex'), null(), format('Node|{0}', variables('nodeVersion')))]",
    );
    expect(String(properties.functionAppConfig)).toContain("'runtime', createObject('name', 'node', 'version', variables('nodeVersion'))");
    expect(JSON.stringify(site.resource)).not.toMatch(/Node\|20|'version', '20'/);
  });

  it("package.json's engines accept Node 22 (and still Node 20 for local work)", () => {
    const engines = (JSON.parse(readFileSync(path.join(INFRA_DIR, '..', 'package.json'), 'utf8')) as { engines: { node: string } }).engines
      .node;
    const ranges = engines.split('||').map((r) => r.trim());
    const accepts = (major: number) =>
      ranges.some((range) =>
        range.split(/\s+/).every((c) => {
          const m = /^(>=|<|>|<=)?(\d+)$/.exec(c)!;
          const v = Number(m[2]);
          return m[1] === '>='
            ? major >= v
            : m[1] === '<'
              ? major < v
              : m[1] === '>'
                ? major > v
                : m[1] === '<='
                  ? major <= v
                  : major === v;
        }),
      );
    expect([20, 22].map(accepts)).toEqual([true, true]);
  });
});

describe('no secret in outputs or defaults', () => {
  it.each(TEMPLATE_FILES)('%s', (file) => {
    expect(secretProblems(templateLevels(file))).toEqual([]);
  });

  it('storage keys only reach the Elastic Premium content share setting', () => {
    const ownResources = allResources(mainLevels).filter(({ resource }) => resource.type !== 'Microsoft.Resources/deployments');
    const listKeys = ownResources.flatMap(({ resource }) =>
      allStrings(resource.properties)
        .filter(isExpression)
        .flatMap((text) => calls(parseExpression(text)).filter((c) => c.name === 'listkeys'))
        .map(() => resource.type),
    );
    expect(listKeys).toEqual(['Microsoft.Web/sites']);
    const settings = appSettingsOf(mainLevels);
    const withKeys = [...settings.values].filter(([, value]) => value.includes('listkeys(')).map(([name]) => name);
    expect(withKeys).toEqual(['WEBSITE_CONTENTAZUREFILECONNECTIONSTRING']);
    const storage = allResources(mainLevels).find(({ resource }) => resource.type === 'Microsoft.Storage/storageAccounts')!;
    expect(objectOf(storage.resource.properties).allowSharedKeyAccess).toBe("[not(variables('isFlex'))]");
  });

  it('reports an output that exposes keys and a default that looks like a connection string', () => {
    const levels = brokenTemplate((t) => {
      t.outputs = { storageKey: { type: 'string', value: "[listKeys(parameters('name'), '2024-11-30').keys[0].value]" } };
      objectOf(t.parameters).conn = {
        type: 'string',
        defaultValue: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc',
        metadata: { description: 'A connection string.' },
      };
    });
    const problems = secretProblems(levels).join('\n');
    expect(problems).toContain('output storageKey looks like a secret');
    expect(problems).toContain('calls listkeys()');
    expect(problems).toContain('default of conn looks like a secret');
  });
});

describe('Durable backend: Azure Storage by default, the Durable Task Scheduler on request', () => {
  const parameters = objectOf(main.parameters);
  const dts = allResources(mainLevels).filter(({ resource }) => resource.type.startsWith('Microsoft.DurableTask/'));
  const settings = appSettingsOf(mainLevels);

  it('durableBackend defaults to AzureStorage; the scheduler SKU and capacity are bounded', () => {
    expect(objectOf(parameters.durableBackend)).toMatchObject({
      defaultValue: 'AzureStorage',
      allowedValues: ['AzureStorage', 'DurableTaskScheduler'],
    });
    expect(objectOf(parameters.durableTaskSchedulerSku)).toMatchObject({
      defaultValue: 'Consumption',
      allowedValues: ['Consumption', 'Dedicated'],
    });
    expect(objectOf(parameters.durableTaskSchedulerCapacity)).toMatchObject({ defaultValue: 1, minValue: 1, maxValue: 3 });
  });

  it('the scheduler, its task hub and the role on it exist only with DurableTaskScheduler', () => {
    const appLevel = dts[0]!.level.template;
    expect(objectOf(appLevel.variables).useScheduler).toBe("[equals(parameters('durableBackend'), 'DurableTaskScheduler')]");
    expect(dts.map(({ resource }) => [resource.type, resource.condition])).toEqual([
      ['Microsoft.DurableTask/schedulers', "[variables('useScheduler')]"],
      ['Microsoft.DurableTask/schedulers/taskHubs', "[variables('useScheduler')]"],
    ]);
    const role = roleAssignments(mainLevels).find((a) => a.roleName === 'Durable Task Data Contributor')!;
    expect(role.condition).toBe("[variables('useScheduler')]");
    expect(role.resource.scope).toBe(
      "[format('Microsoft.DurableTask/schedulers/{0}/taskHubs/{1}', variables('schedulerName'), variables('durableTaskHubName'))]",
    );
  });

  it('the scheduler allows callers (an empty ipAllowlist refuses all) and takes capacity only on Dedicated', () => {
    const properties = objectOf(dts[0]!.resource.properties);
    expect(properties.ipAllowlist).toEqual(['0.0.0.0/0']);
    expect(properties.sku).toBe(
      "[if(equals(parameters('durableTaskSchedulerSku'), 'Dedicated'), createObject('name', 'Dedicated', 'capacity', " +
        "parameters('durableTaskSchedulerCapacity')), createObject('name', 'Consumption'))]",
    );
  });

  it('the app gets the scheduler connection with its user-assigned identity and the task hub name, nothing else new', () => {
    expect(settings.values.get('DURABLE_TASK_SCHEDULER_CONNECTION_STRING')).toBe(
      "format('Endpoint={0};Authentication=ManagedIdentity;ClientID={1}', reference(resourceid('Microsoft.DurableTask/schedulers', " +
        "variables('schedulerName')), '2025-11-01').endpoint, reference(resourceid('Microsoft.ManagedIdentity/userAssignedIdentities', " +
        "variables('identityName')), '2024-11-30').clientId)",
    );
    expect(settings.values.get('TASKHUB_NAME')).toBe("variables('durableTaskHubName')");
    // The host's own storage stays: AzureWebJobsStorage is needed by the Functions host with either backend.
    expect(settings.values.get('AzureWebJobsStorage__accountName')).toBe("variables('storageName')");
    const site = allResources(mainLevels).find(({ resource }) => resource.type === 'Microsoft.Web/sites')!;
    expect(String(objectOf(objectOf(site.resource.properties).siteConfig).appSettings)).toContain(
      ", if(variables('useScheduler'), createObject('DURABLE_TASK_SCHEDULER_CONNECTION_STRING'",
    );
  });
});
