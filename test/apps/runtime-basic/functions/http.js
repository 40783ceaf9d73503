const { app, HttpResponse } = require('@azure/functions');

app.http('echo', {
  methods: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'],
  authLevel: 'anonymous',
  route: 'echo/{id:int?}',
  handler: async (request, context) => {
    const text = await request.text();
    context.log(`echo ${request.method} SECRET=abc123`);
    return {
      status: 200,
      jsonBody: {
        method: request.method,
        url: request.url,
        params: request.params,
        query: Object.fromEntries(request.query.entries()),
        headers: { 'x-custom': request.headers.get('x-custom'), 'content-type': request.headers.get('content-type') },
        body: text,
        greeting: process.env.GREETING,
      },
    };
  },
});

app.http('created', {
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request) => {
    const body = await request.json();
    return new HttpResponse({
      status: 201,
      headers: { 'x-created-id': String(body.id), location: `/api/items/${body.id}` },
      cookies: [{ name: 'session', value: 'abc', httpOnly: true, path: '/' }],
      jsonBody: { created: body },
    });
  },
});

app.http('binary', {
  methods: ['POST'],
  authLevel: 'admin',
  route: 'files/{*path}',
  handler: async (request) => {
    const bytes = Buffer.from(await request.arrayBuffer());
    return {
      status: 200,
      headers: { 'content-type': 'application/octet-stream', 'x-path': request.params.path ?? '' },
      body: Buffer.from(bytes.reverse()),
    };
  },
});

app.http('noContent', { methods: ['GET'], route: 'nothing', handler: async () => undefined });

app.http('throws', {
  methods: ['GET'],
  handler: async () => {
    throw new Error('handler exploded');
  },
});
