/**
 * Event Grid trigger for Resource Manager `ResourceWriteSuccess` on virtualMachines/write: re-read
 * each VM, assess it and start `encryptVm` once per VM (functions/lib/vm-written.ts).
 */
import * as df from 'durable-functions';
import { appContext } from './lib/app';
import { contextLog } from './lib/log';
import { healSettingsOf } from './lib/remediation';
import { activeEncryptVm, startEncryptVm } from './lib/start';
import { handleVmWritten } from './lib/vm-written';

const app = appContext();

df.app.client.eventGrid('vmWritten', {
  handler: async (event, client, context) => {
    await app.scopeReady();
    await handleVmWritten(event, {
      policy: app.policy,
      getVm: (vmId) => app.ports.compute.getVm(vmId, { instanceView: true }),
      start: (vmId) =>
        startEncryptVm(client, vmId, app.policy, {
          publishOutcome: app.config.remediation.outcomeTopicEndpoint !== undefined,
          heal: healSettingsOf(app.config.remediation),
        }),
      activeRun: (vmId) => activeEncryptVm(client, vmId),
      selfObjectId: async () => (await app.identity()).objectId,
      log: contextLog(context),
    });
  },
});
