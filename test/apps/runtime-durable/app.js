const { app } = require('@azure/functions');
const df = require('durable-functions');

df.app.orchestration('sayHellos', function* (context) {
  const input = context.df.getInput();
  const a = yield context.df.callActivity('sayHello', input.first);
  const b = yield context.df.callActivity('sayHello', 'Seattle');
  return [a, b];
});

df.app.activity('sayHello', { handler: (city) => `Hello ${city}!` });

df.app.orchestration('boom', function* () {
  throw new Error('orchestrator exploded');
});

app.http('startIt', {
  route: 'start/{name}',
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => {
    const client = df.getClient(context);
    return { jsonBody: { taskHubName: client.taskHubName } };
  },
});
