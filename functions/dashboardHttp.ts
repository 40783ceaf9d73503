/**
 * `GET /api/dashboard?code=<function key>` (function key): the operator dashboard, one self-contained page
 * (functions/lib/dashboard-page.ts) over the status API and the existing endpoints. The page carries no data; its
 * script sends the key from its own URL to the API.
 */
import { randomBytes } from 'node:crypto';
import { app } from '@azure/functions';
import { DASHBOARD_ROUTE, dashboardPage } from './lib/dashboard-page';

app.http('dashboardHttp', {
  route: DASHBOARD_ROUTE,
  methods: ['GET'],
  authLevel: 'function',
  handler: () => {
    const nonce = randomBytes(16).toString('base64');
    return {
      status: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'content-security-policy':
          `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; ` +
          "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      },
      body: dashboardPage(nonce),
    };
  },
});
