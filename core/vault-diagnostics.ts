/**
 * The diagnostic setting every vault the app creates gets when ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID is set: the vault's
 * audit logs (category group `audit`, which for Key Vault is the AuditEvent category:
 * https://learn.microsoft.com/azure/azure-monitor/reference/supported-logs/microsoft-keyvault-vaults-logs) to the
 * Log Analytics workspace, in the resource-specific table AZKVAuditLogs (`logAnalyticsDestinationType: Dedicated`,
 * https://learn.microsoft.com/azure/azure-monitor/essentials/resource-logs#send-to-log-analytics-workspace).
 * No metrics: they are not audit records, and Azure Monitor collects Key Vault's platform metrics without any diagnostic
 * setting (https://learn.microsoft.com/azure/key-vault/general/monitor-key-vault).
 */

/** The app's own setting on each vault; one name, so a re-run converges it instead of adding another. */
export const VAULT_DIAGNOSTIC_SETTING_NAME = 'ade-autopilot-audit';
export const VAULT_AUDIT_CATEGORY_GROUP = 'audit';
export const VAULT_DIAGNOSTICS_DESTINATION_TYPE = 'Dedicated';

export interface DiagnosticLogLike {
  category?: string;
  categoryGroup?: string;
  enabled: boolean;
}

export interface DiagnosticSettingLike {
  workspaceId?: string;
  logAnalyticsDestinationType?: string;
  logs: DiagnosticLogLike[];
}

/** What the app writes: the audit group to the workspace, nothing else. */
export function vaultAuditSetting(workspaceId: string): Required<DiagnosticSettingLike> {
  return {
    workspaceId,
    logAnalyticsDestinationType: VAULT_DIAGNOSTICS_DESTINATION_TYPE,
    logs: [{ categoryGroup: VAULT_AUDIT_CATEGORY_GROUP, enabled: true }],
  };
}

/**
 * Why the vault's setting of that name does not do what the app needs (missing, another workspace, the audit group off,
 * AzureDiagnostics instead of the resource-specific table), or undefined when it does. Extra enabled logs are fine.
 */
export function vaultAuditSettingMismatch(actual: DiagnosticSettingLike | undefined, workspaceId: string): string | undefined {
  if (!actual) return `no diagnostic setting ${VAULT_DIAGNOSTIC_SETTING_NAME}`;
  if ((actual.workspaceId ?? '').toLowerCase() !== workspaceId.toLowerCase())
    return `diagnostic setting ${VAULT_DIAGNOSTIC_SETTING_NAME} sends to ${actual.workspaceId || 'no workspace'}, not ${workspaceId}`;
  const audit = actual.logs.some(
    (l) => l.enabled && (l.categoryGroup?.toLowerCase() === VAULT_AUDIT_CATEGORY_GROUP || l.categoryGroup?.toLowerCase() === 'alllogs'),
  );
  const auditEvent = actual.logs.some((l) => l.enabled && l.category?.toLowerCase() === 'auditevent');
  if (!audit && !auditEvent) return `diagnostic setting ${VAULT_DIAGNOSTIC_SETTING_NAME} does not send the audit logs`;
  if ((actual.logAnalyticsDestinationType ?? '').toLowerCase() !== VAULT_DIAGNOSTICS_DESTINATION_TYPE.toLowerCase())
    return `diagnostic setting ${VAULT_DIAGNOSTIC_SETTING_NAME} writes to AzureDiagnostics, not the resource-specific table`;
  return undefined;
}
