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

// Starter through the DurableClient binding: waits for the result, or answers with the check-status payload.
df.app.client.http('runHellos', {
  route: 'orchestrators/sayHellos',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: async (request, client) => {
    const instanceId = await client.startNew('sayHellos', { input: await request.json() });
    return client.waitForCompletionOrCreateCheckStatusResponse(request, instanceId, {
      timeoutInMilliseconds: 10000,
      retryIntervalInMilliseconds: 50,
    });
  },
});

// Waits until approved or terminated: a run an attacker would like to stop.
df.app.orchestration('waitForApproval', function* (context) {
  return yield context.df.waitForExternalEvent('approve');
});

// The app's own durable client terminating a run (durable-functions → rpc base URL, axios).
df.app.client.http('terminateRun', {
  route: 'runs/{id}/terminate',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: async (request, client) => {
    await client.terminate(request.params.id, 'stopped by the app');
    return { jsonBody: await client.getStatus(request.params.id) };
  },
});
