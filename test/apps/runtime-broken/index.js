const { app } = require('@azure/functions');

app.http('never', { handler: () => ({ body: 'unreachable' }) });
throw new Error('entry point exploded on purpose');
