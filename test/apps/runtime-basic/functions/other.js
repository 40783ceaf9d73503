const { app, output, trigger } = require('@azure/functions');

const queueOut = output.storageQueue({ queueName: 'outq', connection: 'AzureWebJobsStorage' });

app.generic('hooked', {
  trigger: trigger.generic({ type: 'eventGridTrigger' }),
  handler: (event) => `got ${event.id}`,
});

app.generic('rescued', {
  trigger: trigger.generic({ type: 'eventGridTrigger' }),
  handler: () => {
    throw new Error('will be rescued');
  },
});

app.eventGrid('onEvent', {
  extraOutputs: [queueOut],
  handler: (event, context) => {
    globalThis.__runtimeBasic.events.push({ id: event.id, subject: event.subject, meta: context.triggerMetadata });
    if (event.subject === 'fail') throw new Error(`event ${event.id} failed`);
    context.extraOutputs.set(queueOut, { forwarded: event.id });
    return { handled: event.id };
  },
});

app.timer('tick', {
  schedule: '%TICK_SCHEDULE%',
  runOnStartup: false,
  handler: (timer, context) => {
    globalThis.__runtimeBasic.timer.push({ timer, name: context.functionName });
  },
});
