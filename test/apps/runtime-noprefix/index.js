// Empty routePrefix with a catch-all route: built-in host routes and the durable rpc path must still win.
const { app } = require('@azure/functions');
const df = require('durable-functions');

app.http('home', { methods: ['GET'], authLevel: 'anonymous', route: 'home', handler: () => ({ body: 'home' }) });
app.http('everything', {
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  route: '{*path}',
  handler: (request) => ({ status: 200, jsonBody: { caughtBy: 'everything', path: request.params.path ?? null } }),
});
df.app.orchestration('noop', function* () {
  return 'done';
});
