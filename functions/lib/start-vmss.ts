/** Starting `encryptVmss` for one scale set, under the scale set's deterministic instance id (one run at a time). */
import { scaleSetInstanceId } from '../../core/names';
import type { EncryptionPolicy } from '../../core/policy';
import { ENCRYPT_VMSS_ORCHESTRATOR, type EncryptVmssInput } from '../../orchestrations/scale-set-contracts';
import { startSingleton, type StartOptions, type StarterClient, type StartResult } from './start';

export function startEncryptVmss(
  client: StarterClient,
  scaleSetId: string,
  policy: EncryptionPolicy,
  options: StartOptions = {},
): Promise<StartResult> {
  const input: EncryptVmssInput = { scaleSetId, policy, ...(options.publishOutcome ? { publishOutcome: true } : {}) };
  return startSingleton(client, { orchestrator: ENCRYPT_VMSS_ORCHESTRATOR, instanceId: scaleSetInstanceId(scaleSetId), input });
}
