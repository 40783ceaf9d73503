/**
 * What the deployment grants the app's identity, read from the deployment files themselves so the local
 * stack and the tests run the app with exactly those rights: every `Microsoft.Authorization/roleAssignments`
 * of infra/main.json (nested deployments included) and infra/event-subscriptions.json whose principal is the
 * app's identity, with its role (built-in GUID, or the custom role body the same template defines) and its
 * scope; and the Microsoft Graph application permission infra/deploy.sh grants.
 *
 * Template expressions are evaluated with a small subset of the ARM template functions
 * (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions); a function the
 * subset does not know throws, so a template change cannot silently drop a grant.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** infra/ of the repository, from the sources (local/start) or the build (dist/local/start). */
export const INFRA_DIR =
  [path.resolve(__dirname, '../../infra'), path.resolve(__dirname, '../../../infra')].find((dir) =>
    existsSync(path.join(dir, 'main.json')),
  ) ?? path.resolve(__dirname, '../../infra');

export interface RolePermissions {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface TemplateRoleGrant {
  /** Where it is declared, e.g. `main.json > ade-autopilot-app`. */
  source: string;
  /** Full role definition id as the template writes it (`/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}`). */
  roleDefinitionId: string;
  roleDefinitionGuid: string;
  /** The custom role's body when the template defines the role itself. */
  customRole?: { roleName: string; description: string; permissions: RolePermissions[]; assignableScopes: string[] };
  /** Evaluated scope: `/subscriptions/{s}[/resourceGroups/{rg}[/providers/…]]`. */
  scope: string;
  /** The template's `metadata.description` (why the app needs it). */
  why: string;
}

export interface TemplateGrantOptions {
  subscriptionId: string;
  /** Parameter values over main.parameters.json over the template defaults (e.g. enableSelfHealingRestart, vaultResourceGroupName). */
  parameters?: Record<string, unknown>;
  infraDir?: string;
  location?: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

interface Level {
  source: string;
  template: JsonObject;
  parameters: Map<string, () => unknown>;
  subscriptionId: string;
  resourceGroup?: string;
  copyIndex: number;
}

/** Role assignments the deployment gives the app's identity, in template order; conditions evaluated. */
export function templateRoleGrants(options: TemplateGrantOptions): TemplateRoleGrant[] {
  const infraDir = options.infraDir ?? INFRA_DIR;
  const paramsFile = readJson(path.join(infraDir, 'main.parameters.json'));
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((paramsFile.parameters ?? {}) as JsonObject)) given[k] = (v as JsonObject).value;
  Object.assign(given, options.parameters ?? {});
  const location = options.location ?? 'westeurope';
  const grants: TemplateRoleGrant[] = [];
  for (const file of ['main.json', 'event-subscriptions.json']) {
    const template = readJson(path.join(infraDir, file));
    const top: Level = {
      source: file,
      template,
      parameters: new Map(),
      subscriptionId: options.subscriptionId,
      resourceGroup: String(template.$schema ?? '').includes('subscriptionDeploymentTemplate')
        ? undefined
        : String(given.appResourceGroupName ?? 'rg-ade-autopilot'),
      copyIndex: 0,
    };
    const declared = (template.parameters ?? {}) as Record<string, JsonObject>;
    for (const [name, decl] of Object.entries(declared)) {
      top.parameters.set(name, () => (name in given ? given[name] : evaluate(decl.defaultValue ?? null, top, location)));
    }
    collect(top, grants, location);
  }
  return grants;
}

/** The Graph application permission deploy.sh grants, or undefined when it grants none for this encryption mode. */
export function deployScriptGraphPermission(encryptionMode: string, infraDir = INFRA_DIR): string | undefined {
  const script = readFileSync(path.join(infraDir, 'deploy.sh'), 'utf8');
  const permission = /^readonly GRAPH_PERMISSION="([^"]+)"/m.exec(script)?.[1];
  const mode = /if \[\[ "\$ENCRYPTION_MODE" == (\w[\w-]*) \]\]; then\s*\n\s*# ARM templates cannot assign Graph app roles/m.exec(
    script,
  )?.[1];
  if (!permission || !mode) throw new Error('infra/deploy.sh: cannot find GRAPH_PERMISSION and the encryption mode that grants it');
  if (!/appRoleAssignments/.test(script)) throw new Error('infra/deploy.sh no longer grants the Graph permission with appRoleAssignments');
  return encryptionMode === mode ? permission : undefined;
}

function collect(level: Level, out: TemplateRoleGrant[], location: string): void {
  const resources = ((level.template.resources ?? []) as JsonObject[]).filter(
    (r) => r.condition === undefined || truthy(evaluate(r.condition, level, location)),
  );
  const customRoles = new Map<string, JsonObject>();
  for (const r of resources) {
    if (r.type !== 'Microsoft.Authorization/roleDefinitions') continue;
    customRoles.set(String(evaluate(r.name!, level, location)).toLowerCase(), r);
  }
  for (const r of resources) {
    if (r.type === 'Microsoft.Resources/deployments') {
      collect(nestedLevel(level, r, location), out, location);
      continue;
    }
    if (r.type !== 'Microsoft.Authorization/roleAssignments') continue;
    const props = r.properties as JsonObject;
    // Only the app's identity: the assignments name its principal id (a reference to the identity, or the principalId parameter).
    if (!/userAssignedIdentities|parameters\('principalId'\)/.test(String(props.principalId))) continue;
    const roleDefinitionId = String(evaluate(props.roleDefinitionId!, level, location));
    const guid = roleDefinitionId.split('/').pop()!.toLowerCase();
    const base = levelScope(level);
    const scopeExpr = r.scope === undefined ? undefined : String(evaluate(r.scope, level, location));
    const scope = scopeExpr === undefined ? base : scopeExpr.startsWith('/') ? scopeExpr : `${base}/providers/${scopeExpr}`;
    const custom = customRoles.get(guid);
    const grant: TemplateRoleGrant = {
      source: level.source,
      roleDefinitionId,
      roleDefinitionGuid: guid,
      scope,
      why: String((r.metadata as JsonObject | undefined)?.description ?? ''),
    };
    if (custom) {
      const p = evaluate(custom.properties!, level, location) as JsonObject;
      grant.customRole = {
        roleName: String(p.roleName),
        description: String(p.description ?? ''),
        permissions: ((p.permissions ?? []) as JsonObject[]).map((x) => ({
          actions: (x.actions ?? []) as string[],
          notActions: (x.notActions ?? []) as string[],
          dataActions: (x.dataActions ?? []) as string[],
          notDataActions: (x.notDataActions ?? []) as string[],
        })),
        assignableScopes: (p.assignableScopes ?? []) as string[],
      };
    }
    out.push(grant);
  }
}

function nestedLevel(outer: Level, deployment: JsonObject, location: string): Level {
  const props = deployment.properties as JsonObject;
  const template = props.template as JsonObject;
  const inner = (props.expressionEvaluationOptions as JsonObject | undefined)?.scope === 'inner';
  const subscriptionId =
    deployment.subscriptionId === undefined ? outer.subscriptionId : String(evaluate(deployment.subscriptionId, outer, location));
  const resourceGroup =
    deployment.resourceGroup === undefined
      ? deployment.subscriptionId === undefined
        ? outer.resourceGroup
        : undefined
      : String(evaluate(deployment.resourceGroup, outer, location));
  const level: Level = {
    source: `${outer.source} > ${String(evaluate(deployment.name!, outer, location))}`,
    template: inner
      ? template
      : { ...template, variables: { ...((outer.template.variables ?? {}) as JsonObject), ...((template.variables ?? {}) as JsonObject) } },
    parameters: inner ? new Map() : outer.parameters,
    subscriptionId,
    resourceGroup,
    copyIndex: 0,
  };
  if (inner) {
    const passed = (props.parameters ?? {}) as Record<string, JsonObject>;
    for (const [name, decl] of Object.entries((template.parameters ?? {}) as Record<string, JsonObject>)) {
      // Lazy: a passed value such as reference(...).outputs is evaluated only if a grant needs it.
      level.parameters.set(name, () =>
        passed[name] !== undefined
          ? evaluate(passed[name]!.value ?? null, outer, location)
          : evaluate(decl.defaultValue ?? null, level, location),
      );
    }
  }
  return level;
}

function levelScope(level: Level): string {
  return level.resourceGroup === undefined
    ? `/subscriptions/${level.subscriptionId}`
    : `/subscriptions/${level.subscriptionId}/resourceGroups/${level.resourceGroup}`;
}

function readJson(file: string): JsonObject {
  return JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true' || v === 'True';
}

// ---------------------------------------------------------------------------------------------- expressions

/** Evaluates template values: strings `[expr]` (but not `[[literal`), recursively inside objects and arrays. */
function evaluate(value: Json | undefined, level: Level, location: string): unknown {
  if (typeof value === 'string') {
    if (value.startsWith('[[')) return value.slice(1);
    if (value.startsWith('[') && value.endsWith(']')) return new Expression(value.slice(1, -1), level, location).run();
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => evaluate(v, level, location));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = evaluate(v, level, location);
    return out;
  }
  return value;
}

class Expression {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly level: Level,
    private readonly location: string,
  ) {}

  run(): unknown {
    const v = this.expr();
    this.ws();
    if (this.pos !== this.text.length) throw this.fail('unexpected trailing text');
    return v;
  }

  private expr(): unknown {
    let v = this.primary();
    for (;;) {
      this.ws();
      const c = this.text[this.pos];
      if (c === '.') {
        this.pos++;
        const name = this.ident();
        v = (v as Record<string, unknown> | undefined)?.[name];
      } else if (c === '[') {
        this.pos++;
        const index = this.expr();
        this.expect(']');
        v = (v as Record<string, unknown>)[index as string];
      } else return v;
    }
  }

  private primary(): unknown {
    this.ws();
    const c = this.text[this.pos];
    if (c === "'") {
      let out = '';
      this.pos++;
      for (;;) {
        const ch = this.text[this.pos++];
        if (ch === undefined) throw this.fail('unterminated string');
        if (ch === "'") {
          if (this.text[this.pos] === "'") {
            out += "'";
            this.pos++;
          } else return out;
        } else out += ch;
      }
    }
    if (c !== undefined && /[-\d]/.test(c)) {
      const m = /^-?\d+/.exec(this.text.slice(this.pos))!;
      this.pos += m[0].length;
      return Number(m[0]);
    }
    const name = this.ident();
    this.expect('(');
    const args: Array<() => unknown> = [];
    this.ws();
    if (this.text[this.pos] !== ')') {
      for (;;) {
        // Arguments are parsed now and evaluated lazily, so if() evaluates only the branch it takes.
        const start = this.pos;
        this.skipArgument();
        const source = this.text.slice(start, this.pos);
        args.push(() => new Expression(source, this.level, this.location).run());
        this.ws();
        if (this.text[this.pos] === ',') {
          this.pos++;
          continue;
        }
        break;
      }
    }
    this.expect(')');
    return this.call(name.toLowerCase(), args, name);
  }

  private skipArgument(): void {
    let depth = 0;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === "'") {
        this.pos++;
        while (this.pos < this.text.length && !(this.text[this.pos] === "'" && this.text[this.pos + 1] !== "'"))
          this.pos += this.text[this.pos] === "'" ? 2 : 1;
        this.pos++;
        continue;
      }
      if (ch === '(' || ch === '[') depth++;
      if (ch === ')' || ch === ']') {
        if (depth === 0) return;
        depth--;
      }
      if (ch === ',' && depth === 0) return;
      this.pos++;
    }
  }

  private call(name: string, lazy: Array<() => unknown>, written: string): unknown {
    const arg = (i: number) => lazy[i]!();
    const all = () => lazy.map((f) => f());
    const sub = this.level.subscriptionId;
    switch (name) {
      case 'parameters': {
        const p = this.level.parameters.get(String(arg(0)));
        if (!p) throw this.fail(`unknown parameter ${String(arg(0))}`);
        return p();
      }
      case 'variables': {
        const vars = (this.level.template.variables ?? {}) as JsonObject;
        const n = String(arg(0));
        if (!(n in vars)) throw this.fail(`unknown variable ${n}`);
        return evaluate(vars[n], this.level, this.location);
      }
      case 'format':
        return String(arg(0)).replace(/\{(\d+)\}/g, (_, i: string) => String(lazy[Number(i) + 1]!()));
      case 'concat': {
        const values = all();
        return values.every(Array.isArray) ? (values as unknown[][]).flat() : values.map(String).join('');
      }
      case 'tolower':
        return String(arg(0)).toLowerCase();
      case 'toupper':
        return String(arg(0)).toUpperCase();
      case 'string':
        return typeof arg(0) === 'string' ? arg(0) : JSON.stringify(arg(0));
      case 'replace':
        return String(arg(0))
          .split(String(arg(1)))
          .join(String(arg(2)));
      case 'take': {
        const v = arg(0);
        return typeof v === 'string' ? v.slice(0, Number(arg(1))) : (v as unknown[]).slice(0, Number(arg(1)));
      }
      case 'join':
        return (arg(0) as unknown[]).join(String(arg(1)));
      case 'split':
        return String(arg(0)).split(String(arg(1)));
      case 'last': {
        const v = arg(0);
        return typeof v === 'string' ? v.slice(-1) : (v as unknown[])[(v as unknown[]).length - 1];
      }
      case 'length':
        return (arg(0) as unknown[] | string).length;
      case 'empty': {
        const v = arg(0);
        return (
          v === null ||
          v === '' ||
          (Array.isArray(v) && v.length === 0) ||
          (typeof v === 'object' && v !== null && Object.keys(v).length === 0)
        );
      }
      case 'contains': {
        // ARM: an object's keys and strings compare case-insensitively, array items exactly.
        const container = arg(0);
        const item = arg(1);
        if (typeof container === 'string') return container.toLowerCase().includes(String(item).toLowerCase());
        if (Array.isArray(container)) return container.some((v) => JSON.stringify(v) === JSON.stringify(item));
        const key = String(item).toLowerCase();
        return Object.keys((container ?? {}) as object).some((k) => k.toLowerCase() === key);
      }
      case 'equals':
        return JSON.stringify(arg(0)) === JSON.stringify(arg(1));
      case 'not':
        return !truthy(arg(0));
      case 'and':
        return lazy.every((f) => truthy(f()));
      case 'or':
        return lazy.some((f) => truthy(f()));
      case 'if':
        return truthy(arg(0)) ? arg(1) : arg(2);
      case 'true':
        return true;
      case 'false':
        return false;
      case 'createarray':
        return all();
      case 'createobject': {
        const v = all();
        const out: Record<string, unknown> = {};
        for (let i = 0; i < v.length; i += 2) out[String(v[i])] = v[i + 1];
        return out;
      }
      case 'copyindex':
        return this.level.copyIndex + (lazy.length > 0 ? Number(arg(0)) : 0);
      case 'uniquestring':
        return createHash('sha256')
          .update(all().map(String).join('|'))
          .digest('hex')
          .replace(/[^a-z0-9]/g, '')
          .slice(0, 13);
      case 'guid': {
        const h = createHash('sha1').update(all().map(String).join('-')).digest('hex');
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
      }
      case 'subscription':
        return { id: `/subscriptions/${sub}`, subscriptionId: sub };
      case 'resourcegroup': {
        if (this.level.resourceGroup === undefined) throw this.fail('resourceGroup() at subscription scope');
        return {
          id: `/subscriptions/${sub}/resourceGroups/${this.level.resourceGroup}`,
          name: this.level.resourceGroup,
          location: this.location,
        };
      }
      case 'deployment':
        return { location: this.location, name: 'local' };
      case 'subscriptionresourceid': {
        const v = all().map(String);
        const [type, ...names] = v[0]!.includes('/') && v.length > 1 && /^[0-9a-f-]{36}$/i.test(v[0]!) ? v.slice(1) : v;
        return `/subscriptions/${sub}/providers/${typedNames(type!, names)}`;
      }
      case 'resourceid': {
        const v = all().map(String);
        const [type, ...names] = v;
        if (this.level.resourceGroup === undefined) return `/subscriptions/${sub}/providers/${typedNames(type!, names)}`;
        return `/subscriptions/${sub}/resourceGroups/${this.level.resourceGroup}/providers/${typedNames(type!, names)}`;
      }
      case 'extensionresourceid': {
        const v = all().map(String);
        return `${v[0]}/providers/${typedNames(v[1]!, v.slice(2))}`;
      }
      default:
        throw this.fail(`template function ${written}() is not supported here`);
    }
  }

  private ident(): string {
    this.ws();
    const m = /^[A-Za-z_][\w]*/.exec(this.text.slice(this.pos));
    if (!m) throw this.fail('expected a name');
    this.pos += m[0].length;
    return m[0];
  }

  private expect(ch: string): void {
    this.ws();
    if (this.text[this.pos] !== ch) throw this.fail(`expected '${ch}'`);
    this.pos++;
  }

  private ws(): void {
    while (this.text[this.pos] === ' ') this.pos++;
  }

  private fail(why: string): Error {
    return new Error(`${this.level.source}: cannot evaluate [${this.text}] at ${this.pos}: ${why}`);
  }
}

/** `Microsoft.Storage/storageAccounts/blobServices` + [a, b] → `Microsoft.Storage/storageAccounts/a/blobServices/b`. */
function typedNames(type: string, names: string[]): string {
  const [ns, ...types] = type.split('/');
  return `${ns}/${types.map((t, i) => `${t}/${names[i] ?? ''}`).join('/')}`;
}
