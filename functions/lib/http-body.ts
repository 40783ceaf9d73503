/** Request bodies of the HTTP starters, with 400 messages that name the problem. */
import type { HttpRequest } from '@azure/functions';
import { toErrorInfo } from '../../core/errors';
import { tryParseJson } from '../../core/events/fields';
import { subscriptionScopeProblem, type EncryptionPolicy } from '../../core/policy';
import { parseVmId } from '../../core/resource-ids';

export type BodyResult<T> = { ok: true; value: T } | { ok: false; problem: string; empty?: true };

const VM_ID_BODY = '{ "vmId": "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>" }';

/** The body as JSON; `expected` (e.g. an example body) completes the message when it is not. */
export async function readJsonBody(request: Pick<HttpRequest, 'text'>, expected = 'JSON'): Promise<BodyResult<unknown>> {
  const text = await request.text();
  if (text.trim() === '') return { ok: false, problem: `the request body is empty; it must be ${expected}`, empty: true };
  const parsed = tryParseJson(text);
  return parsed.ok ? parsed : { ok: false, problem: `the request body is not valid JSON; it must be ${expected}` };
}

/** `{ "vmId": … }` naming a VM in a subscription the policy covers. */
export async function readVmIdBody(request: Pick<HttpRequest, 'text'>, policy: EncryptionPolicy): Promise<BodyResult<string>> {
  const body = await readJsonBody(request, `JSON: ${VM_ID_BODY}`);
  if (!body.ok) return body;
  const raw = body.value && typeof body.value === 'object' ? (body.value as Record<string, unknown>).vmId : undefined;
  if (typeof raw !== 'string' || raw.trim() === '')
    return { ok: false, problem: 'vmId is required: the full ARM id of the virtual machine' };
  const vmId = raw.trim();
  let subscriptionId: string;
  try {
    subscriptionId = parseVmId(vmId, 'vmId').subscriptionId;
  } catch (error) {
    return { ok: false, problem: toErrorInfo(error).message };
  }
  const outOfScope = subscriptionScopeProblem(policy, subscriptionId);
  return outOfScope ? { ok: false, problem: `vmId: ${outOfScope}` } : { ok: true, value: vmId };
}
