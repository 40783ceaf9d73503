#!/usr/bin/env node
// Checks the app settings a deployment would set, with the app's own configuration module, before anything
// is deployed: a bad combination (say ADE_KEK_SIZE=2048 with Windows in scope) fails here, with every problem
// listed, instead of as a Function App that will not start.
//
// Usage: node infra/check-settings.cjs <main.json> <parameters file> <built config module> <subscription id>
// The ADE_* settings are computed exactly as main.json computes them (its variables.adeSettings), from the
// parameters file's values or the template defaults. Reads local files only; prints no setting values.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function fail(message, code = 1) {
  process.stderr.write(`check-settings: ${message}\n`);
  process.exit(code);
}

const [templatePath, parametersPath, configModule, subscriptionId] = process.argv.slice(2);
if (!templatePath || !parametersPath || !configModule || !subscriptionId) {
  fail('usage: check-settings.cjs <main.json> <parameters file> <config module> <subscription id>', 2);
}

const template = JSON.parse(fs.readFileSync(templatePath, 'utf8'));
const parametersFile = JSON.parse(fs.readFileSync(parametersPath, 'utf8'));

function parameter(name) {
  const declared = template.parameters?.[name];
  if (!declared) fail(`main.json has no parameter ${name}`, 2);
  const value = parametersFile.parameters?.[name]?.value;
  return value !== undefined ? value : declared.defaultValue;
}

/** Evaluates the few expression shapes variables.adeSettings uses; anything else is a template change to mirror here. */
function evaluate(key, expression) {
  if (typeof expression !== 'string' || !expression.startsWith('[')) return String(expression);
  let m;
  // `location` defaults to the deployment's region, known only when deploying: a stand-in of the right shape.
  if (expression === "[parameters('location')]" && parameter('location') === '[deployment().location]') return 'westeurope';
  if ((m = /^\[parameters\('(\w+)'\)\]$/.exec(expression))) return String(parameter(m[1]));
  if ((m = /^\[string\(parameters\('(\w+)'\)\)\]$/.exec(expression))) return String(parameter(m[1]));
  if ((m = /^\[toLower\(string\(parameters\('(\w+)'\)\)\)\]$/.exec(expression))) return String(parameter(m[1])).toLowerCase();
  if (expression === "[join(variables('targetSubscriptionIds'), ',')]") {
    const targets = parameter('targetSubscriptionIds');
    return (Array.isArray(targets) && targets.length > 0 ? targets : [subscriptionId]).join(',');
  }
  if (expression === "[variables('vaultDiagnosticsWorkspaceId')]") {
    // The workspace the vaults' audit logs go to: the given one, else the template's own (log-<baseName>), when vaultDiagnostics.
    if (parameter('vaultDiagnostics') !== true) return '';
    const given = String(parameter('vaultDiagnosticsWorkspaceId'));
    if (given !== '') return given;
    return `/subscriptions/${subscriptionId}/resourceGroups/${parameter('appResourceGroupName')}/providers/Microsoft.OperationalInsights/workspaces/log-${parameter('baseName')}`;
  }
  return fail(`cannot evaluate ${key} = ${expression}; teach check-settings.cjs this expression`, 2);
}

const env = {};
for (const [key, expression] of Object.entries(template.variables?.adeSettings ?? {})) env[key] = evaluate(key, expression);
if (Object.keys(env).length === 0) fail('main.json has no variables.adeSettings', 2);
// ADE_EVENT_WIRING=auto needs settings the app deployment computes from its own resources (siteConfig.appSettings),
// which exist only once deployed: stand-ins of the right shape, so that the rest of that rule is checked too.
if (String(env.ADE_EVENT_WIRING ?? '').toLowerCase() === 'auto') {
  const appRg = `/subscriptions/${subscriptionId}/resourceGroups/${parameter('appResourceGroupName')}/providers`;
  env.ADE_FUNCTION_APP_RESOURCE_ID = `${appRg}/Microsoft.Web/sites/func-check`;
  env.ADE_DEAD_LETTER_CONTAINER_ID = `${appRg}/Microsoft.Storage/storageAccounts/stcheck/blobServices/default/containers/eventgrid-deadletter`;
  env.ADE_EVENTS_IDENTITY_RESOURCE_ID = `${appRg}/Microsoft.ManagedIdentity/userAssignedIdentities/id-check`;
}

let config;
try {
  config = require(path.resolve(configModule));
} catch (error) {
  fail(`cannot load the configuration module ${configModule}: ${error.message}`, 2);
}
if (typeof config.loadConfig !== 'function') fail(`${configModule} does not export loadConfig`, 2);

try {
  config.loadConfig(env);
} catch (error) {
  // ConfigError lists every bad setting and what was expected; it never contains secrets (there are none here).
  fail(`the app would refuse these settings:\n${error.message}`);
}
// A rule across template and app: the heal actions that deallocate/start VMs need the restart role, which the
// template grants only with enableSelfHealingRestart. Without it every BEK restore would fail on permissions.
const healAction = String(env.ADE_HEAL_ACTION ?? '').toLowerCase();
if (template.parameters?.enableSelfHealingRestart && parameter('enableSelfHealingRestart') === false && healAction !== 'notify-only') {
  fail(
    `healAction "${healAction}" deallocates and starts VMs, but enableSelfHealingRestart is false (no permission to do so); set healAction to notify-only or enableSelfHealingRestart to true`,
  );
}
process.stdout.write(`${Object.keys(env).length} app settings accepted by ${path.basename(configModule)}\n`);
