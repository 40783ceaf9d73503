/**
 * Event Grid trigger for Resource Manager drift: the ADE extension deleted
 * (`ResourceDeleteSuccess` on virtualMachines/extensions) → re-check the VM and redeploy it if the
 * disks are still encrypted; a managed vault written (`ResourceWriteSuccess` on
 * Microsoft.KeyVault/vaults) → re-check and repair the vault.
 */
import * as df from 'durable-functions';
import { handlerDeps } from './lib/app';
import { handleArmDrift } from './lib/remediation';

df.app.client.eventGrid('armDrift', {
  handler: async (event, client, context) => {
    await handleArmDrift(event, await handlerDeps(client, context));
  },
});
