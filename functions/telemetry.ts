/**
 * Exports the OpenTelemetry log records still batched when the worker stops (azure/telemetry.ts); registers no
 * function. appTerminate hooks: https://learn.microsoft.com/azure/azure-functions/functions-node-hooks
 */
import { app } from '@azure/functions';
import { flushTelemetry } from '../azure/telemetry';

app.hook.appTerminate(() => flushTelemetry());
