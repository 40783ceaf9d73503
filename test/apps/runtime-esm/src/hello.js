import fs from 'node:fs';
import { app } from '@azure/functions';

app.http('helloEsm', {
  route: 'hello/{name}',
  authLevel: 'anonymous',
  handler: (request) => ({ body: `Hello ${request.params.name} from ESM` }),
});

app.hook.appTerminate(() => {
  if (process.env.TERMINATE_MARKER) fs.writeFileSync(process.env.TERMINATE_MARKER, 'terminated');
});
