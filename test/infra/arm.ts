/**
 * Helpers for reading ARM JSON templates in tests: load them, walk nested (inner-scope) templates, and parse
 * template-language expressions ("[func(arg, 'literal').prop]") into a small tree, so assertions look at
 * what an expression does instead of grepping its text.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const INFRA_DIR = path.resolve(__dirname, '../../infra');
export const REPO_ROOT = path.resolve(__dirname, '../..');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ArmResource extends JsonObject {
  type: string;
  apiVersion: string;
  name: string;
}

export interface ArmTemplate extends JsonObject {
  $schema: string;
  contentVersion: string;
}

/** One template level: the file's root, or a nested deployment's inline template. */
export interface TemplateLevel {
  /** Human-readable location, e.g. "main.json > ade-autopilot-app". */
  label: string;
  template: ArmTemplate;
  /** The nested deployment resource that holds this template (undefined for the root). */
  deployment?: ArmResource;
  /** Parent level, for resolving parameters passed down. */
  parent?: TemplateLevel;
}

export function loadJson(file: string): JsonObject {
  return JSON.parse(readFileSync(path.resolve(INFRA_DIR, file), 'utf8')) as JsonObject;
}

export function loadTemplate(file: string): ArmTemplate {
  return loadJson(file) as ArmTemplate;
}

export function resourcesOf(template: ArmTemplate): ArmResource[] {
  return (template.resources ?? []) as ArmResource[];
}

export function objectOf(value: Json | undefined): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
}

/** The root template and every nested inline template below it, depth first. */
export function templateLevels(file: string, template: ArmTemplate = loadTemplate(file)): TemplateLevel[] {
  const levels: TemplateLevel[] = [];
  const visit = (level: TemplateLevel): void => {
    levels.push(level);
    for (const resource of resourcesOf(level.template)) {
      const nested = objectOf(objectOf(resource.properties).template);
      if (resource.type === 'Microsoft.Resources/deployments' && Object.keys(nested).length > 0) {
        visit({
          label: `${level.label} > ${literalName(resource.name)}`,
          template: nested as ArmTemplate,
          deployment: resource,
          parent: level,
        });
      }
    }
  };
  visit({ label: file, template });
  return levels;
}

/** Every resource at every level, with its level. */
export function allResources(levels: TemplateLevel[]): Array<{ level: TemplateLevel; resource: ArmResource }> {
  return levels.flatMap((level) => resourcesOf(level.template).map((resource) => ({ level, resource })));
}

function literalName(name: string): string {
  return name.startsWith('[') ? name.replace(/^\[|\]$/g, '') : name;
}

/**
 * The template as text without what belongs to nested inner-scope templates (their own expressions refer
 * to their own parameters) and, optionally, without the parameter declarations themselves.
 */
export function ownText(
  template: ArmTemplate,
  options: { withoutParameterDeclarations?: boolean; withoutVariableDeclarations?: boolean } = {},
): string {
  const copy = JSON.parse(JSON.stringify(template)) as ArmTemplate;
  if (options.withoutParameterDeclarations) delete copy.parameters;
  if (options.withoutVariableDeclarations) delete copy.variables;
  for (const resource of resourcesOf(copy)) {
    const properties = objectOf(resource.properties);
    if (resource.type === 'Microsoft.Resources/deployments' && properties.template !== undefined) delete properties.template;
  }
  return JSON.stringify(copy);
}

// ---------------------------------------------------------------------------------------------------------
// Template-language expressions

export type Expr =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'call'; name: string; args: Expr[] }
  | { kind: 'property'; target: Expr; property: string }
  | { kind: 'index'; target: Expr; index: Expr };

export function isExpression(value: Json | undefined): value is string {
  return typeof value === 'string' && value.startsWith('[') && !value.startsWith('[[') && value.endsWith(']');
}

/** Parses "[...]" into an expression tree; throws with the position on malformed input. */
export function parseExpression(text: string): Expr {
  if (!isExpression(text)) throw new Error(`not an ARM expression: ${text}`);
  const source = text.slice(1, -1);
  let pos = 0;
  const fail = (message: string): never => {
    throw new Error(`${message} at ${pos} in ${text}`);
  };
  const skipSpace = (): void => {
    while (pos < source.length && /\s/.test(source[pos]!)) pos++;
  };
  const parsePrimary = (): Expr => {
    skipSpace();
    const ch = source[pos];
    if (ch === "'") {
      let value = '';
      pos++;
      for (;;) {
        if (pos >= source.length) fail('unterminated string');
        if (source[pos] === "'") {
          if (source[pos + 1] === "'") {
            value += "'";
            pos += 2;
            continue;
          }
          pos++;
          break;
        }
        value += source[pos++];
      }
      return { kind: 'string', value };
    }
    const number = /^-?\d+/.exec(source.slice(pos));
    if (number) {
      pos += number[0].length;
      return { kind: 'number', value: Number(number[0]) };
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(source.slice(pos));
    if (!ident) return fail('expected a function, string or number');
    pos += ident[0].length;
    skipSpace();
    if (source[pos] !== '(') return fail(`expected "(" after ${ident[0]}`);
    pos++;
    const args: Expr[] = [];
    skipSpace();
    if (source[pos] === ')') {
      pos++;
    } else {
      for (;;) {
        args.push(parseAccess());
        skipSpace();
        if (source[pos] === ',') {
          pos++;
          continue;
        }
        if (source[pos] === ')') {
          pos++;
          break;
        }
        fail('expected "," or ")"');
      }
    }
    return { kind: 'call', name: ident[0].toLowerCase(), args };
  };
  const parseAccess = (): Expr => {
    let expr = parsePrimary();
    for (;;) {
      skipSpace();
      if (source[pos] === '.') {
        pos++;
        const prop = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(source.slice(pos));
        if (!prop) fail('expected a property name');
        pos += prop![0].length;
        expr = { kind: 'property', target: expr, property: prop![0] };
      } else if (source[pos] === '[') {
        pos++;
        const index = parseAccess();
        skipSpace();
        if (source[pos] !== ']') fail('expected "]"');
        pos++;
        expr = { kind: 'index', target: expr, index };
      } else {
        return expr;
      }
    }
  };
  const expr = parseAccess();
  skipSpace();
  if (pos !== source.length) fail('trailing input');
  return expr;
}

/** Every call node in the tree (including nested ones), depth first. */
export function calls(expr: Expr): Array<Extract<Expr, { kind: 'call' }>> {
  const found: Array<Extract<Expr, { kind: 'call' }>> = [];
  const visit = (node: Expr): void => {
    if (node.kind === 'call') {
      found.push(node);
      node.args.forEach(visit);
    } else if (node.kind === 'property') {
      visit(node.target);
    } else if (node.kind === 'index') {
      visit(node.target);
      visit(node.index);
    }
  };
  visit(expr);
  return found;
}

/** Names referenced through parameters('x') in an expression. */
export function referencedParameters(expr: Expr): string[] {
  return calls(expr)
    .filter((call) => call.name === 'parameters' && call.args[0]?.kind === 'string')
    .map((call) => (call.args[0] as { value: string }).value);
}

/** Keys of a createObject(k1, v1, k2, v2, ...) call. */
export function createObjectKeys(call: Extract<Expr, { kind: 'call' }>): string[] {
  if (call.name !== 'createobject') throw new Error(`not createObject: ${call.name}`);
  return call.args
    .filter((_, i) => i % 2 === 0)
    .map((arg) => {
      if (arg.kind !== 'string') throw new Error('createObject key is not a literal');
      return arg.value;
    });
}

/** Every string value anywhere inside a JSON value (keys included), for scanning expressions. */
export function allStrings(value: Json | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(allStrings);
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, v]) => [key, ...allStrings(v)]);
  return [];
}
