// Benchmark app: three chained activities, then a fan-out of ten.
const df = require('durable-functions');

df.app.activity('Add', { handler: ({ value, add }) => value + add });
df.app.activity('Square', { handler: (n) => n * n });

df.app.orchestration('Bench', function* (context) {
  let value = context.df.getInput();
  for (let i = 1; i <= 3; i++) value = yield context.df.callActivity('Add', { value, add: i });
  const squares = yield context.df.Task.all(Array.from({ length: 10 }, (_, i) => context.df.callActivity('Square', value + i)));
  return squares.reduce((a, b) => a + b, 0);
});
