// Emits OpenTelemetry log records through the global logs API, as the app's logger does (azure/telemetry.ts).
const { app } = require('@azure/functions');
const { logs, SeverityNumber } = require('@opentelemetry/api-logs');

const logger = () => logs.getLogger('runtime-otel');

logger().emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'app loaded', attributes: { phase: 'start' } });

app.timer('telemetry', {
  schedule: '0 0 0 1 1 *',
  handler: async (_timer, context) => {
    context.info('plain context.log line');
    logger().emit({
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      body: 'encryptVm failed',
      attributes: {
        event: 'EncryptionFailed',
        vmId: '/subscriptions/s/vm1',
        instanceId: 'encrypt-1',
        phase: 'failed',
        outcome: 'failed',
        reason: 'denied',
        message: 'shadowed',
      },
    });
  },
});
