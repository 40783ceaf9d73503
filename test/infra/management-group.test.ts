/**
 * infra/management-group-roles.json: the app identity's Compute roles defined and assigned once at a management group
 * (ADE_SCOPE management groups). Same generic checks as the other templates, and the roles must grant exactly what
 * main.json's per-subscription roles grant, so the two cannot drift.
 */
import { describe, expect, it } from 'vitest';
import { loadTemplate, objectOf, resourcesOf, templateLevels, type JsonObject } from './arm';
import { apiVersionProblems, parameterProblems, roleProblems, secretProblems, structureProblems } from './checks';

const FILE = 'management-group-roles.json';
const template = loadTemplate(FILE);
const levels = templateLevels(FILE);

const EVENT_WIRING_ROLE = "[variables('eventWiringRoleName')]";

function roleDefinitions(resources: JsonObject[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of resources.filter((x) => x.type === 'Microsoft.Authorization/roleDefinitions' && x.name !== EVENT_WIRING_ROLE)) {
    const props = objectOf(r.properties);
    out[String(props.description)] = { permissions: props.permissions, condition: r.condition ?? null };
  }
  return out;
}

describe('management-group-roles.json', () => {
  it('deploys at management-group scope and passes the template checks', () => {
    expect(template.$schema).toContain('managementGroupDeploymentTemplate.json');
    expect(structureProblems(levels)).toEqual([]);
    expect(parameterProblems(levels)).toEqual([]);
    expect(apiVersionProblems(levels)).toEqual([]);
    expect(roleProblems(levels)).toEqual([]);
    expect(secretProblems(levels)).toEqual([]);
  });

  it("defines the same custom roles as main.json's target subscriptions, assignable at the group and assigned there", () => {
    const resources = resourcesOf(template) as JsonObject[];
    const mainTarget = resourcesOf(loadTemplate('main.json')).find((r) => String(r.name).includes('ade-autopilot-target')) as JsonObject;
    const mainResources = resourcesOf(objectOf(objectOf(mainTarget.properties).template) as never) as JsonObject[];
    expect(roleDefinitions(resources)).toEqual(roleDefinitions(mainResources));
    for (const r of resources.filter((x) => x.type === 'Microsoft.Authorization/roleDefinitions'))
      expect(objectOf(r.properties).assignableScopes).toEqual(['[managementGroup().id]']);
    const assignments = resources.filter((x) => x.type === 'Microsoft.Authorization/roleAssignments');
    expect(assignments).toHaveLength(3);
    for (const a of assignments) {
      expect(String(objectOf(a.properties).roleDefinitionId)).toMatch(
        /^\[managementGroupResourceId\('Microsoft\.Authorization\/roleDefinitions'/,
      );
      expect(a.scope).toBeUndefined(); // at the deployment's scope: the management group
    }
  });

  it("the event wiring role exists only with enableEventWiring and holds only what the app's event wiring calls", () => {
    const resources = resourcesOf(template) as JsonObject[];
    const role = resources.find((r) => r.name === EVENT_WIRING_ROLE)!;
    expect(role.condition).toBe("[parameters('enableEventWiring')]");
    expect(objectOf(objectOf(template.parameters).enableEventWiring).defaultValue).toBe(false);
    const assignment = resources.find(
      (r) =>
        r.type === 'Microsoft.Authorization/roleAssignments' &&
        String(objectOf(r.properties).roleDefinitionId).includes('eventWiringRoleName'),
    )!;
    expect(assignment.condition).toBe("[parameters('enableEventWiring')]");
    const permissions = objectOf(role.properties).permissions as JsonObject[];
    expect(permissions).toHaveLength(1);
    expect([...(permissions[0]!.actions as string[])].sort()).toEqual(
      [
        'Microsoft.EventGrid/eventSubscriptions/write',
        'Microsoft.EventGrid/systemTopics/eventSubscriptions/read',
        'Microsoft.EventGrid/systemTopics/eventSubscriptions/write',
        'Microsoft.EventGrid/systemTopics/read',
        'Microsoft.EventGrid/systemTopics/write',
        'Microsoft.Resources/subscriptions/resourceGroups/read',
        'Microsoft.Resources/subscriptions/resourceGroups/write',
      ].sort(),
    );
    for (const key of ['notActions', 'dataActions', 'notDataActions']) expect(permissions[0]![key]).toEqual([]);
    expect(JSON.stringify(permissions)).not.toMatch(/delete|\*|roleAssignments/i);
  });
});
