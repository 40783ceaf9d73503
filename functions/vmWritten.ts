/**
 * Event Grid trigger for Resource Manager `ResourceWriteSuccess` on virtualMachines/write and
 * virtualMachineScaleSets/write: re-read each VM or scale set, assess it and start `encryptVm` (`encryptVmss`) once
 * per VM (scale set) (functions/lib/vm-written.ts).
 */
import * as df from 'durable-functions';
import { appContext } from './lib/app';
import { contextLog } from './lib/log';
import { healSettingsOf } from './lib/remediation';
import { activeEncryptVm, startEncryptVm } from './lib/start';
import { startEncryptVmss } from './lib/start-vmss';
import { handleVmWritten } from './lib/vm-written';

const app = appContext();

df.app.client.eventGrid('vmWritten', {
  handler: async (event, client, context) => {
    await app.scopeReady();
    await handleVmWritten(event, {
      policy: app.policy,
      getVm: (vmId) => app.ports.compute.getVm(vmId, { instanceView: true }),
      start: (vmId, readSince) =>
        startEncryptVm(client, vmId, app.policy, {
          publishOutcome: app.config.remediation.outcomeTopicEndpoint !== undefined,
          heal: healSettingsOf(app.config.remediation),
          ...(readSince !== undefined ? { readSince } : {}),
        }),
      activeRun: (vmId) => activeEncryptVm(client, vmId),
      ...(app.ports.scaleSets
        ? {
            getScaleSet: (id: string) => app.ports.scaleSets!.getScaleSet(id),
            startScaleSet: (id: string) =>
              startEncryptVmss(client, id, app.policy, { publishOutcome: app.config.remediation.outcomeTopicEndpoint !== undefined }),
          }
        : {}),
      selfObjectId: async () => (await app.identity()).objectId,
      log: contextLog(context),
    });
  },
});
