/**
 * infra/README.md stays true to the templates: the parameters table lists every parameter with its real
 * default and app setting, the Deploy to Azure button points at the raw main.json, and every role the
 * template assigns is explained.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { INFRA_DIR, loadTemplate, objectOf, templateLevels } from './arm';
import { roleAssignments } from './checks';

const readme = readFileSync(path.join(INFRA_DIR, 'README.md'), 'utf8');
const main = loadTemplate('main.json');

/** Rows of the markdown table whose header starts with `| <first> |` (cells may be padded by the formatter). */
function tableRows(first: string): string[][] {
  const lines = readme.split('\n');
  const start = lines.findIndex((line) => line.split('|')[1]?.trim() === first);
  expect(start, `table starting with "${first}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, '');

describe('infra/README.md', () => {
  it('the parameters table lists exactly the parameters of main.json, with their types and defaults', () => {
    const parameters = objectOf(main.parameters);
    const rows = tableRows('Parameter');
    expect(rows.map((r) => unquote(r[0]!))).toEqual(Object.keys(parameters));
    for (const [name, type, defaultCell] of rows) {
      const parameter = objectOf(parameters[unquote(name!)]);
      expect(type, name).toBe(parameter.type);
      const defaultValue = parameter.defaultValue;
      const expected =
        defaultValue === '' ? '(empty)' : `\`${typeof defaultValue === 'string' ? defaultValue : JSON.stringify(defaultValue)}\``;
      expect(defaultCell, name).toBe(expected);
    }
  });

  it('the app setting column matches the template', () => {
    const variables = objectOf(main.variables);
    // A setting computed in a variable of its own (ADE_VAULT_DIAGNOSTICS_WORKSPACE_ID) is judged by that variable's expression.
    const adeSettings = Object.fromEntries(
      Object.entries(objectOf(variables.adeSettings)).map(([k, v]) => {
        const variable = /^\[variables\('(\w+)'\)\]$/.exec(String(v))?.[1];
        return [k, variable === undefined ? v : variables[variable]];
      }),
    );
    for (const [name, , , settingCell] of tableRows('Parameter')) {
      const setting = unquote(settingCell!);
      if (setting === '—') {
        // Parameters a computed setting only derives from (appResourceGroupName, baseName) keep their "—".
        expect(
          Object.values(objectOf(variables.adeSettings)).some((v) => String(v).includes(`parameters('${unquote(name!)}')`)),
          name,
        ).toBe(false);
      } else if (setting === 'ADE_SUBSCRIPTIONS') {
        expect(unquote(name!)).toBe('targetSubscriptionIds');
      } else {
        expect(String(adeSettings[setting]), `${name} -> ${setting}`).toContain(`parameters('${unquote(name!)}')`);
      }
    }
  });

  it('has a Deploy to Azure button whose link is the encoded raw URL of infra/main.json', () => {
    const link =
      /\[!\[Deploy to Azure\]\(https:\/\/aka\.ms\/deploytoazurebutton\)\]\((https:\/\/portal\.azure\.com\/#create\/Microsoft\.Template\/uri\/([^)]+))\)/.exec(
        readme,
      );
    expect(link).not.toBeNull();
    const templateUrl = decodeURIComponent(link![2]!);
    expect(templateUrl).toMatch(/^https:\/\/raw\.githubusercontent\.com\/[^/]+\/[^/]+\/main\/infra\/main\.json$/);
    expect(encodeURIComponent(templateUrl)).toBe(link![2]);
  });

  it('explains every role the templates assign', () => {
    const explained = tableRows('Role').map((row) => row[0]!.replace(/\s*\((custom|only with).*\)$/, ''));
    const assigned = [...new Set(roleAssignments(templateLevels('main.json')).map((a) => a.roleName))];
    expect([...assigned].sort()).toEqual([...explained].sort());
  });

  it('gives the three commands, the dry run and the teardown', () => {
    expect(readme).toContain('infra/deploy.sh --location westeurope');
    expect(readme).toContain('infra/deploy.sh --dry-run --location westeurope');
    expect(readme).toMatch(/## Tear down[\s\S]*az group delete --name rg-ade-autopilot/);
    expect(readme).toContain('Application.ReadWrite.OwnedBy');
  });
});
