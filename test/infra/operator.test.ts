/**
 * The operator deployment of infra/main.json: the fleet workbook over the app's Application Insights and the opt-in
 * alert rules (failed encryptions, unrecoverable BEK, stuck runs, dead-lettered events), each notifying the action
 * group given by parameter, and all reading the records the app actually writes (core/telemetry.ts).
 */
import { describe, expect, it } from 'vitest';
import { LOG_EVENTS } from '../../core/telemetry';
import { loadTemplate, objectOf, resourcesOf, type ArmResource, type JsonObject } from './arm';

const main = loadTemplate('main.json');
const operator = resourcesOf(main).find((r) => r.name === 'ade-autopilot-operator')!;
const inner = objectOf(objectOf(operator.properties).template) as unknown as Parameters<typeof resourcesOf>[0];
const resources = resourcesOf(inner);
const props = (r: ArmResource) => objectOf(r.properties) as JsonObject & Record<string, any>;
const variables = objectOf((inner as unknown as JsonObject).variables) as Record<string, any>;
const ofType = (type: string) => resources.filter((r) => r.type === type);
const app = resourcesOf(main).find((r) => r.type === 'Microsoft.Resources/deployments' && r.name === "[variables('appDeploymentName')]")!;

describe('the operator deployment', () => {
  it('is its own nested deployment in the app resource group, after the app and the target subscriptions', () => {
    expect(operator.resourceGroup).toBe("[parameters('appResourceGroupName')]");
    expect(operator.dependsOn).toEqual(["[variables('appDeploymentId')]", 'targetSubscriptions']);
    const passed = objectOf(props(operator).parameters) as Record<string, { value: string }>;
    expect(passed.alertActionGroupId!.value).toBe("[parameters('alertActionGroupId')]");
    expect(passed.deployWorkbook!.value).toBe("[parameters('deployWorkbook')]");
    expect(passed.targetSubscriptionIds!.value).toBe("[variables('targetSubscriptionIds')]");
    expect(objectOf(main.parameters).alertActionGroupId).toMatchObject({ type: 'string', defaultValue: '' });
  });

  it("targets the app's own Application Insights (the name the app deployment gives it)", () => {
    const appVariables = objectOf(objectOf(objectOf(app.properties).template).variables);
    expect(appVariables.insightsName).toBe("[format('appi-{0}', parameters('baseName'))]");
    expect(variables.insightsId).toBe("[resourceId('Microsoft.Insights/components', format('appi-{0}', parameters('baseName')))]");
  });
});

describe('the fleet workbook', () => {
  const [workbook] = ofType('Microsoft.Insights/workbooks');
  const content = variables.workbookContent as { items: Array<{ type: number; name: string; content: Record<string, any> }> };
  const queries = content.items.filter((i) => i.type === 3).map((i) => i.content);

  it('is a shared workbook over the app insights, on by default', () => {
    expect(workbook).toBeDefined();
    expect(workbook!.condition).toBe("[parameters('deployWorkbook')]");
    expect(workbook!.kind).toBe('shared');
    expect(props(workbook!)).toMatchObject({
      category: 'workbook',
      sourceId: "[variables('insightsId')]",
      serializedData: "[string(variables('workbookContent'))]",
    });
    expect(objectOf(main.parameters).deployWorkbook).toMatchObject({ type: 'bool', defaultValue: true });
  });

  it('has the fleet view (latest record per VM) and failures over time, reading customDimensions by event', () => {
    expect(content.items.map((i) => i.name)).toEqual(expect.arrayContaining(['fleet', 'failures-over-time']));
    for (const q of queries) {
      expect(q.resourceType).toBe('microsoft.insights/components');
      expect(q.query).toContain('extend record = customDimensions');
    }
    const fleet = queries.find((q) => q.title.startsWith('Fleet'))!;
    expect(fleet.query).toMatch(/summarize arg_max\(timestamp, record\) by vmId/);
    for (const field of ['phase', 'outcome', 'reason', 'nextStep', 'instanceId']) expect(fleet.query).toContain(`record.${field}`);
    const failures = queries.find((q) => q.title === 'Failures over time')!;
    expect(failures.visualization).toBe('timechart');
    for (const event of [LOG_EVENTS.encryptionFailed, LOG_EVENTS.bekUnrecoverable, LOG_EVENTS.remediationFailed, LOG_EVENTS.runStuck])
      expect(failures.query).toContain(`'${event}'`);
  });

  it('names only events the app writes', () => {
    const known = new Set<string>(Object.values(LOG_EVENTS));
    for (const q of queries) for (const m of (q.query as string).matchAll(/'([A-Z][A-Za-z]+)'/g)) expect(known).toContain(m[1]);
  });
});

describe('alert rules', () => {
  const logAlerts = ofType('Microsoft.Insights/scheduledQueryRules');
  const metricAlerts = ofType('Microsoft.Insights/metricAlerts');

  it.each([
    [LOG_EVENTS.encryptionFailed, 2],
    [LOG_EVENTS.bekUnrecoverable, 1],
    [LOG_EVENTS.runStuck, 2],
  ])('%s: a log alert on the app insights, severity %i, notifying the action group', (event, severity) => {
    const rule = logAlerts.find((r) => JSON.stringify(props(r).criteria).includes(`'${event}'`));
    expect(rule, event).toBeDefined();
    const p = props(rule!);
    expect(rule!.condition).toBe("[not(empty(parameters('alertActionGroupId')))]");
    expect(rule!.kind).toBe('LogAlert');
    expect(p).toMatchObject({
      severity,
      enabled: true,
      scopes: ["[variables('insightsId')]"],
      evaluationFrequency: 'PT5M',
      windowSize: 'PT15M',
    });
    expect(p.actions).toEqual({ actionGroups: ["[parameters('alertActionGroupId')]"] });
    const [criterion] = p.criteria.allOf;
    expect(criterion).toMatchObject({ timeAggregation: 'Count', operator: 'GreaterThan', threshold: 0 });
    expect(criterion.query).toContain('extend record = customDimensions');
  });

  it('exactly three log alerts', () => {
    expect(logAlerts).toHaveLength(3);
  });

  it.each([
    ['resourceEventsTopicName', "variables('resourceEventsTopicName')"],
    ['policyEventsTopicName', "variables('policyEventsTopicName')"],
  ])('dead-lettered events of the %s system topic in every target subscription', (parameter, passedFrom) => {
    const rule = metricAlerts.find((r) => JSON.stringify(props(r).scopes).includes(`parameters('${parameter}')`));
    expect(rule).toBeDefined();
    expect(rule!.condition).toBe("[not(empty(parameters('alertActionGroupId')))]");
    expect(rule!.copy).toMatchObject({ count: "[length(parameters('targetSubscriptionIds'))]" });
    const p = props(rule!);
    expect(p.scopes).toEqual([
      `[format('/subscriptions/{0}/resourceGroups/{1}/providers/Microsoft.EventGrid/systemTopics/{2}', ` +
        `parameters('targetSubscriptionIds')[copyIndex()], parameters('vaultResourceGroupName'), parameters('${parameter}'))]`,
    ]);
    expect(p.criteria.allOf).toEqual([
      expect.objectContaining({
        metricName: 'DeadLetteredCount',
        metricNamespace: 'Microsoft.EventGrid/systemTopics',
        operator: 'GreaterThan',
        threshold: 0,
      }),
    ]);
    expect(p.actions).toEqual([{ actionGroupId: "[parameters('alertActionGroupId')]" }]);
    const passed = objectOf(props(operator).parameters) as Record<string, { value: string }>;
    expect(passed[parameter]!.value).toBe(`[${passedFrom}]`);
    // The same names the target deployment gives its system topics.
    expect(JSON.stringify(main)).toContain(`"${parameter}":{"value":"[${passedFrom}]"}`);
  });
});
