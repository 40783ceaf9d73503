// Timer functions whose runs the test inspects through globalThis (the host runs in-process).
const { app } = require('@azure/functions');

const runs = (globalThis.__timerRuns = []);
const record = (name) => (timer) => {
  runs.push({ name, isPastDue: timer.isPastDue, status: timer.scheduleStatus, at: Date.now() });
};

app.timer('everySecond', { schedule: '%EVERY_SECOND%', handler: record('everySecond') });
app.timer('onStartup', { schedule: '0 0 0 1 1 *', runOnStartup: true, handler: record('onStartup') });
app.timer('hourly', { schedule: '0 0 * * * *', handler: record('hourly') });
app.timer('slow', {
  schedule: '*/1 * * * * *',
  handler: async (timer, context) => {
    record('slow')(timer, context);
    // Longer than the one-second interval: the next occurrence comes due while this run is still going.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
  },
});
