/**
 * Microsoft.Insights/diagnosticSettings on a Key Vault (`{vaultId}/providers/Microsoft.Insights/diagnosticSettings[/{name}]`),
 * as https://learn.microsoft.com/rest/api/monitor/diagnostic-settings describes it: PUT replaces the setting, GET reads one or
 * lists them, DELETE removes one. Validated as Azure Monitor does: Key Vault's log categories (AuditEvent,
 * AzurePolicyEvaluationDetails) and category groups (audit, allLogs) and its one metric category (AllMetrics,
 * https://learn.microsoft.com/azure/azure-monitor/reference/supported-logs/microsoft-keyvault-vaults-logs), no retention on new
 * settings, at most five settings per resource, one destination not reused for the same category by two settings, and ARM's
 * linked access check on the destination workspace (`Microsoft.OperationalInsights/workspaces/sharedKeys/action`,
 * https://learn.microsoft.com/azure/azure-monitor/logs/manage-access) answered with 403 LinkedAuthorizationFailed.
 * Workspaces themselves are not modelled: any well-formed workspace id is a destination.
 */
import type { Principal } from '../contract';
import type { ArmCore, RequestScope } from './core';
import { armError, bodyObject, eq, isObject, json, key, truncate } from './http';

/** `{resource}/providers/Microsoft.Insights/diagnosticSettings[/{name}]`: the watched resource and the setting's name. */
export const DIAGNOSTIC_SETTINGS_PATH =
  /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+)\/providers\/Microsoft\.Insights\/diagnosticSettings(?:\/([^/]+))?\/?$/i;

const WORKSPACE_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.OperationalInsights\/workspaces\/[^/]+$/i;
const KEY_VAULT = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)$/i;
const LOG_CATEGORIES = ['AuditEvent', 'AzurePolicyEvaluationDetails'];
const CATEGORY_GROUPS: Record<string, string[]> = { audit: ['AuditEvent'], alllogs: LOG_CATEGORIES };
const METRIC_CATEGORIES = ['AllMetrics'];
const MAX_SETTINGS_PER_RESOURCE = 5;
const SHARED_KEYS_ACTION = 'Microsoft.OperationalInsights/workspaces/sharedKeys/action';

export interface DiagnosticSettingRecord {
  id: string;
  name: string;
  resourceId: string;
  workspaceId: string;
  logAnalyticsDestinationType: string | null;
  logs: Array<{ category: string | null; categoryGroup: string | null; enabled: boolean }>;
  metrics: Array<{ category: string; enabled: boolean }>;
}

export class DiagnosticSettingsArm {
  constructor(private readonly core: ArmCore) {}

  private get settings(): Record<string, DiagnosticSettingRecord> {
    return (this.core.state.diagnosticSettings ??= {});
  }

  handle(scope: RequestScope, resourceId: string, name: string | undefined): ReturnType<typeof json> {
    const { req } = scope;
    const vault = KEY_VAULT.exec(resourceId);
    const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(resourceId)![1]!;
    this.core.subscription(subscriptionId, scope.principal);
    if (!vault)
      throw armError(
        400,
        'ResourceTypeNotSupported',
        `The simulator keeps diagnostic settings for Microsoft.KeyVault/vaults only, not for '${truncate(resourceId, 200)}'.`,
      );
    const target = this.core.state.vaults[key(resourceId)];
    if (!target)
      throw armError(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.KeyVault/vaults/${truncate(vault[3]!, 40)}' under resource group ` +
          `'${truncate(vault[2]!, 90)}' was not found.`,
      );
    const onResource = Object.values(this.settings).filter((s) => eq(s.resourceId, target.id));
    if (name === undefined) {
      if (req.method !== 'GET') throw methodNotAllowed(req.method);
      return json(200, { value: onResource.map(settingJson) });
    }
    const id = `${target.id}/providers/Microsoft.Insights/diagnosticSettings/${name}`;
    const existing = this.settings[key(id)];
    switch (req.method) {
      case 'GET':
        if (!existing) throw armError(404, 'ResourceNotFound', `The diagnostic setting '${truncate(name, 80)}' doesn't exist.`);
        return json(200, settingJson(existing));
      case 'DELETE':
        if (!existing) return { status: 204 };
        delete this.settings[key(id)];
        this.core.emit('Delete', scope, subscriptionId, id, 'Microsoft.Insights/diagnosticSettings/delete', { existing: true });
        return { status: 200 };
      case 'PUT': {
        const record = this.validate(scope.principal, id, name, target.id, bodyObject(req));
        if (!existing && onResource.length >= MAX_SETTINGS_PER_RESOURCE)
          throw armError(
            400,
            'BadRequest',
            `Resource '${truncate(target.id, 200)}' already has ${MAX_SETTINGS_PER_RESOURCE} diagnostic settings, ` +
              'the most a resource can have.',
          );
        for (const other of onResource) {
          if (eq(other.id, id) || !eq(other.workspaceId, record.workspaceId)) continue;
          const shared = enabledCategories(record).find((c) => enabledCategories(other).includes(c));
          if (shared)
            throw armError(
              409,
              'Conflict',
              `Data sink '${record.workspaceId}' is already used in diagnostic setting '${other.name}' for category '${shared}'. ` +
                `Data sinks can't be reused in different settings on the same category for the same resource.`,
            );
        }
        this.settings[key(id)] = record;
        this.core.emit('Write', scope, subscriptionId, id, 'Microsoft.Insights/diagnosticSettings/write', { existing: Boolean(existing) });
        return json(200, settingJson(record));
      }
      default:
        throw methodNotAllowed(req.method);
    }
  }

  private validate(
    principal: Principal,
    id: string,
    name: string,
    resourceId: string,
    body: Record<string, unknown>,
  ): DiagnosticSettingRecord {
    if (name.length > 260 || /[<>*%&:\\?+/#]/.test(name) || name.trim() === '')
      throw armError(400, 'BadRequest', `The diagnostic setting name '${truncate(name, 80)}' is invalid.`);
    const p = body.properties;
    if (!isObject(p)) throw armError(400, 'BadRequest', "The parameter 'properties' cannot be null.");
    for (const other of ['storageAccountId', 'eventHubAuthorizationRuleId', 'serviceBusRuleId', 'marketplacePartnerId'])
      if (p[other] !== undefined && p[other] !== null)
        throw armError(400, 'BadRequest', `The simulator sends diagnostic settings to Log Analytics workspaces only ('${other}' given).`);
    const workspaceId = p.workspaceId;
    if (workspaceId === undefined || workspaceId === null || workspaceId === '')
      throw armError(
        400,
        'BadRequest',
        'At least one storage account, event hub, Log Analytics workspace or partner solution must be specified.',
      );
    if (typeof workspaceId !== 'string' || !WORKSPACE_ID.test(workspaceId))
      throw armError(
        400,
        'LinkedInvalidPropertyId',
        `Property id '${truncate(String(workspaceId), 200)}' at path 'properties.workspaceId' is invalid. Expect fully qualified ` +
          `resource Id that start with '/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.`,
      );
    const destinationType = p.logAnalyticsDestinationType ?? null;
    if (destinationType !== null && !(typeof destinationType === 'string' && eq(destinationType, 'Dedicated')))
      throw armError(
        400,
        'BadRequest',
        `logAnalyticsDestinationType '${truncate(String(destinationType), 40)}' is not supported; use Dedicated or leave it null.`,
      );
    const logs = listOf(p.logs, 'logs').map((l) => {
      refuseRetention(l);
      if (typeof l.enabled !== 'boolean') throw armError(400, 'BadRequest', "The log setting property 'enabled' is required.");
      const category = typeof l.category === 'string' && l.category !== '' ? l.category : null;
      const group = typeof l.categoryGroup === 'string' && l.categoryGroup !== '' ? l.categoryGroup : null;
      if ((category === null) === (group === null))
        throw armError(400, 'BadRequest', 'Each log setting needs exactly one of category or categoryGroup.');
      if (category !== null && !LOG_CATEGORIES.some((c) => eq(c, category)))
        throw armError(400, 'BadRequest', `Category '${truncate(category, 80)}' is not supported.`);
      if (group !== null && !(group.toLowerCase() in CATEGORY_GROUPS))
        throw armError(400, 'BadRequest', `Category group '${truncate(group, 80)}' is not supported.`);
      return { category, categoryGroup: group, enabled: l.enabled };
    });
    const metrics = listOf(p.metrics, 'metrics').map((m) => {
      refuseRetention(m);
      const category = String(m.category ?? '');
      if (!METRIC_CATEGORIES.some((c) => eq(c, category)))
        throw armError(
          400,
          'BadRequest',
          `Metric category '${truncate(category, 80)}' is not supported, supported categories are: '${METRIC_CATEGORIES.join("', '")}'.`,
        );
      return { category, enabled: m.enabled === true };
    });
    // ARM's linked access check: whoever points a resource's logs at a workspace needs its shared keys action there.
    if (principal.kind !== 'platform' && !this.core.authz.allows(principal.objectId, SHARED_KEYS_ACTION, workspaceId))
      throw armError(
        403,
        'LinkedAuthorizationFailed',
        `The client '${principal.objectId}' with object id '${principal.objectId}' has permission to perform action ` +
          `'Microsoft.Insights/diagnosticSettings/write' on scope '${id}'; however, it does not have permission to perform action ` +
          `'${SHARED_KEYS_ACTION}' on the linked scope(s) '${workspaceId}' or the linked scope(s) are invalid.`,
      );
    return {
      id,
      name,
      resourceId,
      workspaceId,
      logAnalyticsDestinationType: destinationType === null ? null : 'Dedicated',
      logs,
      metrics,
    };
  }
}

function methodNotAllowed(method: string) {
  return armError(405, 'MethodNotAllowed', `The requested resource does not support http method '${truncate(method, 12)}'.`);
}

function listOf(value: unknown, field: string): Array<Record<string, unknown>> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isObject))
    throw armError(400, 'InvalidRequestContent', `The property '${field}' must be an array of objects.`);
  return value;
}

function refuseRetention(entry: Record<string, unknown>): void {
  const r = entry.retentionPolicy;
  if (isObject(r) && (r.enabled === true || (typeof r.days === 'number' && r.days > 0)))
    throw armError(400, 'BadRequest', 'Diagnostic settings does not support retention for new diagnostic settings.');
}

/** The log categories a setting sends, groups expanded (Key Vault: audit = AuditEvent; allLogs = both categories). */
function enabledCategories(s: DiagnosticSettingRecord): string[] {
  const out = new Set<string>();
  for (const l of s.logs) {
    if (!l.enabled) continue;
    if (l.category) out.add(LOG_CATEGORIES.find((c) => eq(c, l.category!))!);
    if (l.categoryGroup) for (const c of CATEGORY_GROUPS[l.categoryGroup.toLowerCase()] ?? []) out.add(c);
  }
  for (const m of s.metrics) if (m.enabled) out.add(m.category);
  return [...out];
}

function settingJson(s: DiagnosticSettingRecord): unknown {
  return {
    id: s.id,
    name: s.name,
    type: 'Microsoft.Insights/diagnosticSettings',
    properties: {
      workspaceId: s.workspaceId,
      logAnalyticsDestinationType: s.logAnalyticsDestinationType,
      logs: s.logs.map((l) => ({ ...l, retentionPolicy: { enabled: false, days: 0 } })),
      metrics: s.metrics.map((m) => ({ ...m, timeGrain: null, retentionPolicy: { enabled: false, days: 0 } })),
    },
  };
}
