// Hooks: record what the host passes so tests can assert the invocation path.
const { app } = require('@azure/functions');

globalThis.__runtimeBasic = { appStart: 0, appTerminate: 0, pre: [], post: [], timer: [], events: [] };
const seen = globalThis.__runtimeBasic;

app.hook.appStart((ctx) => {
  seen.appStart++;
  ctx.hookData.startedBy = 'appStart';
});
app.hook.appTerminate(() => {
  seen.appTerminate++;
});
app.hook.preInvocation((ctx) => {
  seen.pre.push(ctx.invocationContext.functionName);
  ctx.hookData.pre = true;
  if (ctx.invocationContext.functionName === 'hooked') {
    const original = ctx.functionHandler;
    ctx.functionHandler = (...args) => original(...args) + ':wrapped';
  }
});
app.hook.postInvocation((ctx) => {
  seen.post.push({
    name: ctx.invocationContext.functionName,
    sawPre: ctx.hookData.pre === true,
    error: ctx.error ? String(ctx.error.message) : undefined,
  });
  if (ctx.invocationContext.functionName === 'rescued' && ctx.error) {
    ctx.error = undefined;
    ctx.result = 'rescued by hook';
  }
});
app.hook.log((ctx) => {
  if (ctx.message.includes('SECRET')) ctx.message = ctx.message.replace(/SECRET=\S+/, 'SECRET=***');
});
