/**
 * Event Grid trigger for Key Vault `SecretNewVersionCreated` on the dedicated vaults: raises
 * `SecretStored` to the one orchestration waiting for that VM's secret (functions/lib/secret-events.ts).
 */
import * as df from 'durable-functions';
import { ENTITY, type WaitersState } from '../orchestrations/contracts';
import { appContext } from './lib/app';
import { contextLog } from './lib/log';
import { handleSecretEvents } from './lib/secret-events';

const app = appContext();

df.app.client.eventGrid('secretEvents', {
  handler: async (event, client, context) => {
    await handleSecretEvents(event, {
      findSecretVersionProperties: (secretUrl) => app.ports.keyVault.findSecretVersionProperties(secretUrl),
      readWaiters: async (vaultName) => {
        const state = await client.readEntityState<WaitersState>(new df.EntityId(ENTITY.vaultWaiters, vaultName.toLowerCase()));
        return state.entityExists ? (state.entityState?.waiters ?? []) : [];
      },
      raise: (instanceId, eventName, payload) => client.raiseEvent(instanceId, eventName, payload),
      log: contextLog(context),
    });
  },
});
