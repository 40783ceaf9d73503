import { app } from '@azure/functions';

app.timer('esmTick', { schedule: '0 0 0 * * *', handler: () => undefined });
