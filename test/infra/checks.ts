/**
 * The checks the infra tests run, as functions returning a list of problems (empty = fine). Keeping them
 * separate lets the tests run each one against the real templates and against a small broken template, so
 * every check is shown to be able to fail.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { BUILT_IN_ROLES, roleKey } from './built-in-roles';
import {
  REPO_ROOT,
  allResources,
  allStrings,
  calls,
  isExpression,
  objectOf,
  ownText,
  parseExpression,
  resourcesOf,
  type ArmResource,
  type Expr,
  type Json,
  type JsonObject,
  type TemplateLevel,
} from './arm';

const TEMPLATE_SCHEMAS = new Set([
  'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
  'https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#',
  'https://schema.management.azure.com/schemas/2019-08-01/managementGroupDeploymentTemplate.json#',
]);
const SUBSCRIPTION_SCHEMA = 'https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#';
const MANAGEMENT_GROUP_SCHEMA = 'https://schema.management.azure.com/schemas/2019-08-01/managementGroupDeploymentTemplate.json#';
const PARAMETER_TYPES = new Set(['string', 'securestring', 'int', 'bool', 'object', 'secureobject', 'array']);

/** ARM template functions (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions), lower-cased. */
const ARM_FUNCTIONS = new Set(
  [
    // array and object
    'array',
    'concat',
    'contains',
    'createArray',
    'createObject',
    'empty',
    'first',
    'flatten',
    'intersection',
    'items',
    'json',
    'last',
    'length',
    'max',
    'min',
    'null',
    'objectKeys',
    'range',
    'shallowMerge',
    'skip',
    'take',
    'tryGet',
    'union',
    // lambda
    'filter',
    'groupBy',
    'lambda',
    'lambdaVariables',
    'map',
    'mapValues',
    'reduce',
    'sort',
    'toObject',
    // comparison and logical
    'coalesce',
    'equals',
    'greater',
    'greaterOrEquals',
    'less',
    'lessOrEquals',
    'and',
    'bool',
    'false',
    'if',
    'not',
    'or',
    'true',
    // date, deployment, numeric
    'dateTimeAdd',
    'dateTimeFromEpoch',
    'dateTimeToEpoch',
    'utcNow',
    'deployer',
    'deployment',
    'environment',
    'parameters',
    'variables',
    'add',
    'copyIndex',
    'div',
    'float',
    'int',
    'mod',
    'mul',
    'sub',
    // resource
    'extensionResourceId',
    'listAccountSas',
    'listKeys',
    'listSecrets',
    'managementGroup',
    'managementGroupResourceId',
    'pickZones',
    'providers',
    'reference',
    'references',
    'resourceGroup',
    'resourceId',
    'subscription',
    'subscriptionResourceId',
    'tenant',
    'tenantResourceId',
    // string
    'base64',
    'base64ToJson',
    'base64ToString',
    'dataUri',
    'dataUriToString',
    'endsWith',
    'format',
    'guid',
    'indexOf',
    'join',
    'lastIndexOf',
    'newGuid',
    'padLeft',
    'replace',
    'split',
    'startsWith',
    'string',
    'substring',
    'toLower',
    'toUpper',
    'trim',
    'uniqueString',
    'uri',
    'uriComponent',
    'uriComponentToString',
  ].map((name) => name.toLowerCase()),
);

// ---------------------------------------------------------------------------------------------------------
// Structure

export function structureProblems(levels: TemplateLevel[]): string[] {
  const problems: string[] = [];
  for (const level of levels) {
    const t = level.template;
    if (!TEMPLATE_SCHEMAS.has(t.$schema)) problems.push(`${level.label}: unknown $schema ${String(t.$schema)}`);
    if (t.contentVersion !== '1.0.0.0') problems.push(`${level.label}: contentVersion must be 1.0.0.0`);
    if (!Array.isArray(t.resources)) problems.push(`${level.label}: resources must be an array`);
    for (const [name, raw] of Object.entries(objectOf(t.parameters))) {
      const type = String(objectOf(raw).type ?? '').toLowerCase();
      if (!PARAMETER_TYPES.has(type)) problems.push(`${level.label}: parameter ${name} has type ${type || '(none)'}`);
    }
    for (const resource of resourcesOf(t)) {
      for (const key of ['type', 'apiVersion', 'name'] as const) {
        if (typeof resource[key] !== 'string' || resource[key] === '') problems.push(`${level.label}: a resource has no ${key}`);
      }
      if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(String(resource.apiVersion)))
        problems.push(`${level.label}: ${resource.type} apiVersion ${String(resource.apiVersion)} is malformed`);
      if (resource.type === 'Microsoft.Resources/deployments') {
        const scope = objectOf(objectOf(resource.properties).expressionEvaluationOptions).scope;
        if (scope !== 'inner') problems.push(`${level.label}: nested deployment ${resource.name} must use inner expression scope`);
      }
    }
    for (const text of allStrings(ownStrings(t))) {
      if (!isExpression(text)) continue;
      try {
        for (const call of calls(parseExpression(text))) {
          if (!ARM_FUNCTIONS.has(call.name)) problems.push(`${level.label}: ${call.name}() is not an ARM template function`);
        }
      } catch (error) {
        problems.push(`${level.label}: ${(error as Error).message}`);
      }
    }
  }
  return problems;
}

/** The level's own JSON (nested templates cut off). */
function ownStrings(template: JsonObject): Json {
  return JSON.parse(ownText(template as never)) as Json;
}

// ---------------------------------------------------------------------------------------------------------
// Parameters and variables

export function parameterProblems(levels: TemplateLevel[]): string[] {
  const problems: string[] = [];
  for (const level of levels) {
    const declared = objectOf(level.template.parameters);
    const body = ownText(level.template, { withoutParameterDeclarations: true });
    const referenced = new Set([...body.matchAll(/parameters\('([^']+)'\)/g)].map((m) => m[1]!));
    for (const [name, raw] of Object.entries(declared)) {
      const description = objectOf(objectOf(raw).metadata).description;
      if (typeof description !== 'string' || description.trim().length < 10)
        problems.push(`${level.label}: parameter ${name} has no description`);
      if (!referenced.has(name)) problems.push(`${level.label}: parameter ${name} is never used`);
    }
    for (const name of referenced) {
      if (!(name in declared)) problems.push(`${level.label}: parameters('${name}') is not declared`);
    }
    const variables = objectOf(level.template.variables);
    const variableBody = ownText(level.template, { withoutVariableDeclarations: true }) + JSON.stringify(variables);
    for (const name of Object.keys(variables)) {
      const uses = [...variableBody.matchAll(new RegExp(`variables\\('${name}'\\)`, 'g'))].length;
      if (uses === 0) problems.push(`${level.label}: variable ${name} is never used`);
    }
    for (const m of ownText(level.template).matchAll(/variables\('([^']+)'\)/g)) {
      if (!(m[1]! in variables)) problems.push(`${level.label}: variables('${m[1]}') is not declared`);
    }
    // A nested deployment must pass exactly the parameters its template declares without a default.
    for (const resource of resourcesOf(level.template)) {
      const properties = objectOf(resource.properties);
      if (resource.type !== 'Microsoft.Resources/deployments' || properties.template === undefined) continue;
      const passed = Object.keys(objectOf(properties.parameters));
      const inner = objectOf(objectOf(properties.template).parameters);
      for (const name of passed)
        if (!(name in inner)) problems.push(`${level.label}: ${resource.name} passes undeclared parameter ${name}`);
      for (const [name, raw] of Object.entries(inner)) {
        if (!passed.includes(name) && objectOf(raw).defaultValue === undefined)
          problems.push(`${level.label}: ${resource.name} does not pass required parameter ${name}`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// api-versions against the @azure/arm-* SDKs in the lock file

export const SDK_BY_NAMESPACE: Readonly<Record<string, string>> = {
  'microsoft.resources': '@azure/arm-resources',
  'microsoft.managedidentity': '@azure/arm-msi',
  'microsoft.storage': '@azure/arm-storage',
  'microsoft.operationalinsights': '@azure/arm-operationalinsights',
  'microsoft.insights': '@azure/arm-appinsights',
  'microsoft.web': '@azure/arm-appservice',
  'microsoft.authorization': '@azure/arm-authorization',
  'microsoft.eventgrid': '@azure/arm-eventgrid',
  'microsoft.keyvault': '@azure/arm-keyvault',
  'microsoft.compute': '@azure/arm-compute',
};

/** Resource types whose api-versions live in another SDK than their namespace's (Azure Monitor's alert rules). */
export const SDK_BY_TYPE: Readonly<Record<string, string>> = {
  'microsoft.insights/metricalerts': '@azure/arm-monitor',
  'microsoft.insights/scheduledqueryrules': '@azure/arm-monitor',
  // Management locks (ManagementLockClient).
  'microsoft.authorization/locks': '@azure/arm-locks',
};

/**
 * Resource types whose provider publishes no JavaScript management SDK, so no installed @azure/arm-* package can
 * vouch for their api-versions. Each is checked against this table instead: the versions listed, each read from
 * the provider's ARM template reference (the URL), and nothing else. Only exact types are listed (another type of
 * the same namespace still has no SDK mapped and is reported), and no namespace here may also be in
 * SDK_BY_NAMESPACE (tested). `npm view @azure/arm-durabletask` answers 404 Not Found (checked 2026-12-02).
 */
export interface DocumentedApiVersions {
  versions: readonly string[];
  reference: string;
}

export const API_VERSIONS_WITHOUT_SDK: Readonly<Record<string, DocumentedApiVersions>> = {
  'microsoft.durabletask/schedulers': {
    versions: ['2025-11-01'],
    reference: 'https://learn.microsoft.com/azure/templates/microsoft.durabletask/2025-11-01/schedulers',
  },
  'microsoft.durabletask/schedulers/taskhubs': {
    versions: ['2025-11-01'],
    reference: 'https://learn.microsoft.com/azure/templates/microsoft.durabletask/2025-11-01/schedulers/taskhubs',
  },
};

const knownVersionsCache = new Map<string, Set<string>>();

/** api-versions a package's compiled client sends (its `apiVersion` defaults and constant parameters). */
export function knownApiVersions(pkg: string): Set<string> {
  const cached = knownVersionsCache.get(pkg);
  if (cached) return cached;
  const root = path.join(REPO_ROOT, 'node_modules', pkg, 'dist');
  const versions = new Set<string>();
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) {
        if (!['browser', 'esm', 'react-native'].includes(entry)) visit(full);
      } else if (entry.endsWith('.js') && !entry.endsWith('.min.js')) {
        const text = readFileSync(full, 'utf8');
        for (const m of text.matchAll(/(?:apiVersion|defaultValue)[^"'\n]{0,60}["'](\d{4}-\d{2}-\d{2}(?:-preview)?)["']/g))
          versions.add(m[1]!);
      }
    }
  };
  if (existsSync(root)) visit(root);
  knownVersionsCache.set(pkg, versions);
  return versions;
}

interface LockFile {
  packages: Record<string, { version?: string; dev?: boolean }>;
}

export function lockedVersion(pkg: string): string | undefined {
  const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as LockFile;
  return lock.packages[`node_modules/${pkg}`]?.version;
}

export function installedVersion(pkg: string): string | undefined {
  const file = path.join(REPO_ROOT, 'node_modules', pkg, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : undefined;
}

export function apiVersionProblems(levels: TemplateLevel[]): string[] {
  const problems: string[] = [];
  for (const { level, resource } of allResources(levels)) {
    const namespace = resource.type.split('/')[0]!.toLowerCase();
    const documented = API_VERSIONS_WITHOUT_SDK[resource.type.toLowerCase()];
    if (documented) {
      if (!documented.versions.includes(resource.apiVersion))
        problems.push(
          `${level.label}: ${resource.type}@${resource.apiVersion} is not a documented api-version ` +
            `(${documented.versions.join(', ')}; ${documented.reference})`,
        );
      continue;
    }
    const pkg = SDK_BY_TYPE[resource.type.toLowerCase()] ?? SDK_BY_NAMESPACE[namespace];
    if (!pkg) {
      problems.push(`${level.label}: no SDK package mapped for ${resource.type}`);
      continue;
    }
    const locked = lockedVersion(pkg);
    if (!locked) {
      problems.push(`${level.label}: ${pkg} (for ${resource.type}) is not in package-lock.json`);
      continue;
    }
    if (installedVersion(pkg) !== locked)
      problems.push(`${pkg}: installed ${installedVersion(pkg) ?? 'nothing'}, lock file says ${locked} (run npm ci)`);
    if (!knownApiVersions(pkg).has(resource.apiVersion)) {
      problems.push(
        `${level.label}: ${resource.type}@${resource.apiVersion} is not an api-version ${pkg}@${locked} ` +
          `knows (${[...knownApiVersions(pkg)].sort().join(', ')})`,
      );
    }
  }
  // reference()/list*() calls name an api-version too: it must be one the same template deploys with.
  for (const level of levels) {
    const declared = new Set(resourcesOf(level.template).map((r) => r.apiVersion));
    for (const text of allStrings(ownStrings(level.template))) {
      if (!isExpression(text)) continue;
      for (const call of calls(parseExpression(text))) {
        if (!['reference', 'listkeys'].includes(call.name) || call.args.length < 2) continue;
        const version = call.args[1];
        if (version?.kind === 'string' && !declared.has(version.value))
          problems.push(`${level.label}: ${call.name}() uses api-version ${version.value}, which no resource in this template uses`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// Role assignments

export type RoleScope =
  | 'management group'
  | 'subscription'
  | 'vault resource group'
  | 'storage account'
  | 'application insights'
  | 'function app'
  | 'outcome topic'
  | 'durable task hub'
  | 'diagnostics workspace'
  | 'app identity'
  | 'resource group';

export interface RoleAssignmentInfo {
  label: string;
  roleName: string;
  builtIn: boolean;
  roleDefinitionGuid?: string;
  scope: RoleScope;
  condition?: string;
  actions: string[];
  resource: ArmResource;
}

function scopeOf(level: TemplateLevel, resource: ArmResource): RoleScope {
  const scope = resource.scope;
  if (typeof scope === 'string') {
    if (scope.includes('Microsoft.Storage/storageAccounts/')) return 'storage account';
    if (scope.includes('Microsoft.Insights/components/')) return 'application insights';
    if (scope.includes('Microsoft.Web/sites/')) return 'function app';
    if (scope.includes('Microsoft.EventGrid/topics/')) return 'outcome topic';
    if (/Microsoft\.DurableTask\/schedulers\/[^/]+\/taskHubs\//.test(scope)) return 'durable task hub';
    if (scope.includes('Microsoft.OperationalInsights/workspaces/')) return 'diagnostics workspace';
    if (scope.includes('Microsoft.ManagedIdentity/userAssignedIdentities/')) return 'app identity';
    throw new Error(`${level.label}: unrecognised role assignment scope ${scope}`);
  }
  if (level.template.$schema === SUBSCRIPTION_SCHEMA) return 'subscription';
  if (level.template.$schema === MANAGEMENT_GROUP_SCHEMA) return 'management group';
  const group = level.deployment?.resourceGroup;
  if (typeof group === 'string' && group.includes("parameters('vaultResourceGroupName')")) return 'vault resource group';
  return 'resource group';
}

/** Every role assignment with its role resolved to a built-in id or a custom role defined in the same template. */
export function roleAssignments(levels: TemplateLevel[]): RoleAssignmentInfo[] {
  const found: RoleAssignmentInfo[] = [];
  for (const { level, resource } of allResources(levels)) {
    if (resource.type !== 'Microsoft.Authorization/roleAssignments') continue;
    const properties = objectOf(resource.properties);
    const expr = parseExpression(String(properties.roleDefinitionId));
    // At management-group scope the definition lives on the group (managementGroupResourceId).
    const idFunction = level.template.$schema === MANAGEMENT_GROUP_SCHEMA ? 'managementgroupresourceid' : 'subscriptionresourceid';
    if (
      expr.kind !== 'call' ||
      expr.name !== idFunction ||
      (expr.args[0] as { value?: string }).value !== 'Microsoft.Authorization/roleDefinitions'
    ) {
      throw new Error(
        `${level.label}: roleDefinitionId must be ` +
          `subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ...): ` +
          `${String(properties.roleDefinitionId)}`,
      );
    }
    const idArg = expr.args[1]!;
    const base = {
      label: level.label,
      scope: scopeOf(level, resource),
      resource,
      condition: typeof resource.condition === 'string' ? resource.condition : undefined,
    };
    if (idArg.kind === 'property' && isVariablesCall(idArg.target, 'roles')) {
      const guid = String(objectOf(objectOf(level.template.variables).roles)[idArg.property]);
      const role = BUILT_IN_ROLES[guid];
      found.push({
        ...base,
        roleName: role?.name ?? `unknown built-in role ${guid} (variable ${idArg.property})`,
        builtIn: true,
        roleDefinitionGuid: guid,
        actions: [],
      });
      if (role && roleKey(role.name) !== roleKey(idArg.property))
        found[found.length - 1]!.roleName = `${role.name} (but the variable says ${idArg.property})`;
    } else if (idArg.kind === 'call' && idArg.name === 'variables') {
      const variable = (idArg.args[0] as { value: string }).value;
      const definition = resourcesOf(level.template).find(
        (r) => r.type === 'Microsoft.Authorization/roleDefinitions' && r.name === `[variables('${variable}')]`,
      );
      if (!definition)
        throw new Error(
          `${level.label}: role assignment refers to variables('${variable}') but no custom role of that name is defined here`,
        );
      const defProps = objectOf(definition.properties);
      const permissions = (defProps.permissions ?? []) as JsonObject[];
      found.push({
        ...base,
        roleName: customRoleName(String(defProps.roleName)),
        builtIn: false,
        actions: permissions.flatMap((p) => [...((p.actions ?? []) as string[]), ...((p.dataActions ?? []) as string[])]),
      });
    } else {
      throw new Error(`${level.label}: role definition id must come from variables('roles').<name> or a custom role variable`);
    }
  }
  return found;
}

/** "[format('ADE Autopilot VM restart ({0})', subscription().subscriptionId)]" -> "ADE Autopilot VM restart". */
function customRoleName(roleName: string): string {
  if (!isExpression(roleName)) return roleName;
  const expr = parseExpression(roleName);
  if (expr.kind === 'call' && expr.name === 'format' && expr.args[0]?.kind === 'string')
    return expr.args[0].value.replace(/\s*\(\{0\}\)$/, '');
  throw new Error(`custom role name must be a literal or format('Name ({0})', ...): ${roleName}`);
}

function isVariablesCall(expr: Expr, name: string): boolean {
  return expr.kind === 'call' && expr.name === 'variables' && expr.args[0]?.kind === 'string' && expr.args[0].value === name;
}

/** Least-privilege rules every assignment must satisfy. */
export function roleProblems(levels: TemplateLevel[]): string[] {
  const problems: string[] = [];
  for (const a of roleAssignments(levels)) {
    const where = `${a.label}: ${a.roleName} on the ${a.scope}`;
    const properties = objectOf(a.resource.properties);
    if (a.builtIn) {
      const role = a.roleDefinitionGuid ? BUILT_IN_ROLES[a.roleDefinitionGuid] : undefined;
      if (!role) problems.push(`${where}: not a known built-in role id`);
      else if (role.grantsAccessManagement || role.broaderThanContributor)
        problems.push(`${where}: role may manage access or is broader than Contributor`);
      else if (role.name === 'Contributor') problems.push(`${where}: Contributor is never needed; use a narrower role`);
    } else {
      for (const action of a.actions) {
        if (action.includes('*')) problems.push(`${where}: custom role uses a wildcard action ${action}`);
        if (/^Microsoft\.Authorization\//i.test(action)) problems.push(`${where}: custom role touches Microsoft.Authorization (${action})`);
      }
    }
    const description = objectOf(a.resource.metadata).description;
    if (typeof description !== 'string' || description.length < 40) problems.push(`${where}: needs a metadata.description justifying it`);
    else if (a.builtIn && !description.startsWith(a.roleName))
      problems.push(`${where}: description must start with the role name it justifies`);
    if (properties.principalType !== 'ServicePrincipal') problems.push(`${where}: principalType must be ServicePrincipal`);
    if (!String(a.resource.name).startsWith('[guid('))
      problems.push(`${where}: name must be a deterministic guid(...) so re-deploys are idempotent`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// Secrets

const SECRET_NAME = /(key|secret|password|connectionstring|token|sas|credential)/i;
const SECRET_VALUE = /(AccountKey=|SharedAccessSignature|SharedAccessKey|[?&]sig=|BEGIN [A-Z ]*PRIVATE KEY|^[A-Za-z0-9+/]{40,}={0,2}$)/;

export function secretProblems(levels: TemplateLevel[]): string[] {
  const problems: string[] = [];
  for (const level of levels) {
    for (const [name, raw] of Object.entries(objectOf(level.template.outputs))) {
      const output = objectOf(raw);
      if (SECRET_NAME.test(name)) problems.push(`${level.label}: output ${name} looks like a secret`);
      if (String(output.type).toLowerCase().startsWith('secure')) problems.push(`${level.label}: output ${name} is a secure type`);
      for (const text of allStrings(output.value)) {
        if (!isExpression(text)) continue;
        for (const call of calls(parseExpression(text))) {
          if (call.name.startsWith('list')) problems.push(`${level.label}: output ${name} calls ${call.name}()`);
        }
        if (/connectionstring|instrumentationkey/i.test(text))
          problems.push(`${level.label}: output ${name} exposes a connection string or key`);
      }
    }
    for (const [name, raw] of Object.entries(objectOf(level.template.parameters))) {
      const parameter = objectOf(raw);
      const type = String(parameter.type).toLowerCase();
      if (type.startsWith('secure') && parameter.defaultValue !== undefined)
        problems.push(`${level.label}: secure parameter ${name} has a default`);
      for (const text of allStrings(parameter.defaultValue)) {
        if (SECRET_VALUE.test(text)) problems.push(`${level.label}: default of ${name} looks like a secret`);
      }
    }
    // list*() (keys) may only feed the Function App's settings, where ARM keeps the value server-side.
    for (const resource of resourcesOf(level.template)) {
      const isAppSettings = resource.type === 'Microsoft.Web/sites';
      const own = JSON.parse(ownText({ resources: [resource] } as never)) as JsonObject;
      for (const text of allStrings(own)) {
        if (!isExpression(text)) continue;
        const listCalls = calls(parseExpression(text)).filter((c) => c.name.startsWith('list'));
        if (listCalls.length > 0 && !isAppSettings)
          problems.push(`${level.label}: ${resource.type} ${resource.name} calls ${listCalls[0]!.name}()`);
      }
    }
  }
  return problems;
}

export function secretValueProblems(label: string, value: Json): string[] {
  return allStrings(value)
    .filter((text) => SECRET_VALUE.test(text))
    .map(() => `${label}: a value looks like a secret`);
}
