/**
 * DiagnosticSettingsPort over @azure/arm-monitor (Microsoft.Insights/diagnosticSettings, an extension resource of the
 * resource it watches: https://learn.microsoft.com/rest/api/monitor/diagnostic-settings). One client for every
 * subscription: the resource id carries the subscription.
 */
import { MonitorClient, type DiagnosticSettingsResource, type MonitorClientOptionalParams } from '@azure/arm-monitor';
import type { TokenCredential } from '@azure/core-auth';
import { vaultAuditSetting, vaultAuditSettingMismatch } from '../core/vault-diagnostics';
import { callAzure, callAzureOrUndefined, SDK_RETRY_OPTIONS } from './errors';
import type { DiagnosticSettingInfo, DiagnosticSettingsPort, EnsureDiagnosticSettingResult } from './ports';

export interface DiagnosticSettingsAdapterOptions {
  clientOptions?: MonitorClientOptionalParams;
}

export class DiagnosticSettingsAdapter implements DiagnosticSettingsPort {
  private client?: MonitorClient;

  constructor(
    private readonly credential: TokenCredential,
    private readonly options: DiagnosticSettingsAdapterOptions = {},
  ) {}

  private monitor(): MonitorClient {
    return (this.client ??= new MonitorClient(this.credential, { retryOptions: { ...SDK_RETRY_OPTIONS }, ...this.options.clientOptions }));
  }

  async getDiagnosticSetting(resourceId: string, name: string): Promise<DiagnosticSettingInfo | undefined> {
    const found = await callAzureOrUndefined(`Read diagnostic setting ${name} of ${resourceId}`, () =>
      this.monitor().diagnosticSettings.get(uriOf(resourceId), name),
    );
    return found ? toInfo(found, name) : undefined;
  }

  async ensureVaultAuditLogs(resourceId: string, name: string, workspaceId: string): Promise<EnsureDiagnosticSettingResult> {
    const current = await this.getDiagnosticSetting(resourceId, name);
    if (current && vaultAuditSettingMismatch(current, workspaceId) === undefined) return { setting: current, action: 'unchanged' };
    // A PUT replaces the setting of that name as a whole: it is the app's own, so nothing of anyone else's is lost.
    const wanted = vaultAuditSetting(workspaceId);
    const written = await callAzure(`Write diagnostic setting ${name} of ${resourceId}`, () =>
      this.monitor().diagnosticSettings.createOrUpdate(uriOf(resourceId), name, {
        workspaceId: wanted.workspaceId,
        logAnalyticsDestinationType: wanted.logAnalyticsDestinationType,
        logs: wanted.logs.map((l) => ({ ...l })),
      }),
    );
    return { setting: toInfo(written, name), action: current ? 'updated' : 'created' };
  }
}

/** The SDK expands `/{+resourceUri}/providers/…`: the id without its leading slash. */
function uriOf(resourceId: string): string {
  return resourceId.replace(/^\/+/, '');
}

function toInfo(s: DiagnosticSettingsResource, name: string): DiagnosticSettingInfo {
  const info: DiagnosticSettingInfo = {
    id: s.id ?? '',
    name: s.name ?? name,
    logs: (s.logs ?? []).map((l) => ({
      ...(l.category ? { category: l.category } : {}),
      ...(l.categoryGroup ? { categoryGroup: l.categoryGroup } : {}),
      enabled: l.enabled === true,
    })),
    metrics: (s.metrics ?? []).map((m) => ({ ...(m.category ? { category: m.category } : {}), enabled: m.enabled === true })),
  };
  if (s.workspaceId) info.workspaceId = s.workspaceId;
  if (s.logAnalyticsDestinationType) info.logAnalyticsDestinationType = s.logAnalyticsDestinationType;
  return info;
}
