/**
 * Run status for the HTTP starters, under the function key: `GET /api/runs/{instanceId}`.
 *
 * The starters never hand out Durable management URLs: in Azure those carry the
 * `durabletask_extension` system key, which would let any holder of a function key (the alerts key
 * sits in an action group's configuration) start orchestrations with its own input, signal entities
 * or terminate runs. See https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api#security
 * Instead a 202 carries the instance id and this app-level URL, which only reads, and only our own runs.
 */
import type { DurableClient } from 'durable-functions';
import type { HttpResponseInit } from '@azure/functions';
import { isAppInstanceId } from '../../core/names';
import {
  ENCRYPT_AT_HOST_ORCHESTRATOR,
  ENCRYPT_VM_ORCHESTRATOR,
  REMEDIATE_VM_ORCHESTRATOR,
  RESTORE_BEK_ORCHESTRATOR,
  SWEEP_ORCHESTRATOR,
} from '../../orchestrations/contracts';
import { ENCRYPT_VMSS_ORCHESTRATOR } from '../../orchestrations/scale-set-contracts';
import { isInstanceNotFound } from './start';

/** The route of the status endpoint, under the host's routePrefix. */
export const RUNS_ROUTE = 'runs/{instanceId}';
const APP_ORCHESTRATORS = new Set([
  ENCRYPT_VM_ORCHESTRATOR,
  ENCRYPT_AT_HOST_ORCHESTRATOR,
  ENCRYPT_VMSS_ORCHESTRATOR,
  REMEDIATE_VM_ORCHESTRATOR,
  RESTORE_BEK_ORCHESTRATOR,
  SWEEP_ORCHESTRATOR,
]);

/** What a 202 links to: `<origin>/api/runs/<id>` (no key in it: the caller already holds one). */
export function runStatusUrl(requestUrl: string, instanceId: string, routePrefix = 'api'): string {
  return new URL(`/${routePrefix}/runs/${encodeURIComponent(instanceId)}`, requestUrl).toString();
}

export interface RunAnswer {
  status: number;
  body: Record<string, unknown>;
  instanceId?: string;
}

/**
 * The HTTP response for a handler core's answer: a 202 (and a 409 naming a running sweep) carries
 * `instanceId` and `statusUri`, with `Location` on a 202. Nothing else about the Durable backend.
 */
export function runAnswer(requestUrl: string, result: RunAnswer): HttpResponseInit {
  if (!result.instanceId) return { status: result.status, jsonBody: result.body };
  const statusUri = runStatusUrl(requestUrl, result.instanceId);
  const jsonBody = { ...result.body, instanceId: result.instanceId, statusUri };
  if (result.status !== 202) return { status: result.status, jsonBody };
  return { status: 202, jsonBody, headers: { location: statusUri, 'retry-after': '10' } };
}

/** `GET /api/runs/{instanceId}`: 200 with the run's status, 400 for an id the app never makes, 404 for no such run of ours. */
export async function handleRunStatus(
  instanceId: string | undefined,
  client: Pick<DurableClient, 'getStatus'>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  if (!instanceId || !isAppInstanceId(instanceId))
    return {
      status: 400,
      body: { error: 'instanceId must be an instance id this app returned (encrypt-…, remediate-…, restore-…, sweep-…)' },
    };
  let status: Awaited<ReturnType<DurableClient['getStatus']>> | undefined;
  try {
    status = await client.getStatus(instanceId, { showHistory: false, showHistoryOutput: false, showInput: false });
  } catch (error) {
    if (!isInstanceNotFound(error)) throw error;
  }
  // Only our orchestrations: an entity or another app's run with a look-alike id is "not found" too.
  if (!status || typeof status.name !== 'string' || !APP_ORCHESTRATORS.has(status.name))
    return { status: 404, body: { error: `no run ${instanceId}` } };
  return {
    status: 200,
    body: {
      instanceId,
      name: status.name,
      runtimeStatus: status.runtimeStatus,
      customStatus: status.customStatus ?? null,
      output: status.output ?? null,
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
    },
  };
}
