/**
 * Tests that drive a third-party tool (the Azure CLI, shellcheck, Chromium) run when the tool is on PATH. Without it they do
 * not run, and the run ends with one line naming them and how to install the tools. With ADE_REQUIRE_THIRD_PARTY=1
 * (CI sets it) they always run, so a missing tool fails them instead of going unnoticed.
 *
 *   describe.runIf(thirdParty(AZURE_CLI, 'the Azure CLI against the simulator'))('…', () => { … });
 */
import { accessSync, constants, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';

export const REQUIRE_THIRD_PARTY_VARIABLE = 'ADE_REQUIRE_THIRD_PARTY';

export interface ThirdPartyTool {
  command: string;
  /** How to install it on Debian/Ubuntu (what .ci/run does). */
  install: string;
}

export const AZURE_CLI: ThirdPartyTool = { command: 'az', install: 'apt-get install -y azure-cli' };
export const SHELLCHECK: ThirdPartyTool = { command: 'shellcheck', install: 'apt-get install -y shellcheck' };
/** Debian's Chromium, driven by playwright-core (which never downloads a browser). */
export const CHROMIUM: ThirdPartyTool = { command: 'chromium', install: 'apt-get install -y chromium' };

/** The executable's path when `command` is on PATH (as execFile/spawn would find it). */
export function onPath(command: string, pathVariable = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVariable.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Whether the checks that need `tool` run: the tool is installed, or ADE_REQUIRE_THIRD_PARTY=1 makes them run (and
 * fail) without it. A check that does not run is recorded for the end-of-run report.
 */
export function thirdParty(tool: ThirdPartyTool, check: string): boolean {
  if (onPath(tool.command) !== undefined || process.env[REQUIRE_THIRD_PARTY_VARIABLE] === '1') return true;
  const file = path.join(inject('thirdPartyNotRunDir'), `${tool.command}-${check.replace(/[^\w-]+/g, '_')}`);
  writeFileSync(file, JSON.stringify({ ...tool, check }));
  return false;
}

/** One line: which third-party checks did not run and how to install what they need. */
export function notRunReport(records: readonly string[]): string {
  const entries = records.map((record) => JSON.parse(record) as ThirdPartyTool & { check: string });
  const checks = [...new Set(entries.map((e) => `${e.check} (needs '${e.command}': ${e.install})`))].sort();
  return (
    `Third-party checks not run, tool not installed: ${checks.join('; ')}. ` +
    `Install the tools to run them; ${REQUIRE_THIRD_PARTY_VARIABLE}=1 makes a missing tool fail the run (CI sets it).`
  );
}
