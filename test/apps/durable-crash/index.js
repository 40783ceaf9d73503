// Sample app for crash/restart tests: activities journal their start and end to CRASH_JOURNAL (one line each).
const fs = require('node:fs');
const df = require('durable-functions');

const journal = (line) => fs.appendFileSync(process.env.CRASH_JOURNAL, line + '\n');

df.app.activity('Step', {
  handler: async ({ id, step }) => {
    journal(`start ${id} ${step} ${process.pid}`);
    await new Promise((r) => setTimeout(r, 150));
    journal(`end ${id} ${step} ${process.pid}`);
    return step * 10;
  },
});

df.app.orchestration('Chain', function* (context) {
  const results = [];
  for (let step = 1; step <= 6; step++) results.push(yield context.df.callActivity('Step', { id: context.df.instanceId, step }));
  return results;
});

df.app.orchestration('Sleeper', function* (context) {
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 3_000));
  return yield context.df.callActivity('Step', { id: context.df.instanceId, step: 1 });
});

df.app.orchestration('Waiter', function* (context) {
  const value = yield context.df.waitForExternalEvent('Go');
  return { got: value };
});
