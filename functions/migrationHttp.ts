/**
 * `GET /api/migration` (function key): every ADE VM in scope with its way off ADE before it retires on 2028-09-15
 * (functions/lib/migration.ts); `?format=csv` for a spreadsheet. Reads only.
 */
import { app as functionsApp } from '@azure/functions';
import { appContext } from './lib/app';
import { contextLog } from './lib/log';
import { handleMigrationReport } from './lib/migration';

const app = appContext();

functionsApp.http('migrationHttp', {
  route: 'migration',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request, context) => {
    await app.scopeReady();
    const answer = await handleMigrationReport(request.query, {
      policy: app.policy,
      compute: app.ports.compute,
      now: () => new Date(),
      log: contextLog(context),
    });
    return typeof answer.body === 'string'
      ? { status: answer.status, body: answer.body, headers: answer.headers }
      : { status: answer.status, jsonBody: answer.body, headers: answer.headers };
  },
});
