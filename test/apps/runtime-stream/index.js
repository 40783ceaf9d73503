const { app } = require('@azure/functions');

app.setup({ enableHttpStream: true });
app.http('streamed', { handler: () => ({ body: 'never served' }) });
