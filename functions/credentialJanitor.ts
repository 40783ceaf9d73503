/**
 * Timer (every 15 minutes): the credential janitor removes short-lived `ade-autopilot` passwords that no active run
 * holds from the per-region Entra applications (functions/lib/credential-janitor.ts).
 */
import * as df from 'durable-functions';
import { appContext } from './lib/app';
import { removeStaleCredentials } from './lib/credential-janitor';
import { contextLog } from './lib/log';
import { runtimeStatusOf } from './lib/start';

/** A password lives at most the secret-event timeout plus this margin (orchestrations/encrypt-vm.ts). */
const HOLD_MARGIN_MS = 15 * 60_000;

df.app.client.timer('credentialJanitor', {
  schedule: '0 */15 * * * *',
  handler: async (_timer, client, context) => {
    const app = appContext();
    await removeStaleCredentials({
      directory: app.ports.directory,
      runtimeStatus: (instanceId) => runtimeStatusOf(client, instanceId),
      maxHoldMs: app.policy.timeouts.secretEventTimeoutMinutes * 60_000 + HOLD_MARGIN_MS,
      now: () => Date.now(),
      log: contextLog(context),
    });
  },
});
