/** Body parsing of the HTTP starter, with 400 messages that name the problem. */
import type { HttpRequest } from '@azure/functions';
import { toErrorInfo } from '../../core/errors';
import { parseVmId } from '../../core/resource-ids';

/** Reads and validates the body; returns the VM id or a 400 message. */
export async function readVmIdBody(request: Pick<HttpRequest, 'text'>): Promise<{ vmId: string } | { problem: string }> {
  const text = await request.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {
      problem:
        'The body must be JSON: { "vmId": "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>" }',
    };
  }
  const vmId = body && typeof body === 'object' ? (body as Record<string, unknown>).vmId : undefined;
  if (typeof vmId !== 'string' || vmId.trim() === '') return { problem: 'vmId is required: the full ARM id of the virtual machine' };
  try {
    parseVmId(vmId.trim(), 'vmId');
  } catch (error) {
    return { problem: toErrorInfo(error).message };
  }
  return { vmId: vmId.trim() };
}
