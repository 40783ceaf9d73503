const { app } = require('@azure/functions');

app.http('fine', { handler: () => ({ body: 'ok' }) });
app.storageQueue('fromQueue', { queueName: 'work', connection: 'AzureWebJobsStorage', handler: () => undefined });
