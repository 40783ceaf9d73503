/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core) loads
 * `GET /api/dashboard` from the local host running the app against the Azure simulator, sees new VMs go from pending
 * to encrypted in the fleet table, opens a failing VM to read its reason and next step, and sees a scale set as a
 * scale set row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, onPath, thirdParty } from '../third-party';
import { uniformScaleSet } from '../fixtures/scale-set-bodies';
import { eventually, HUB_KEYS, startPipeline, type Pipeline } from '../pipeline/harness';

const EXTENSION_WRITE = 'Microsoft.Compute/virtualMachines/extensions/write';

describe.runIf(thirdParty(CHROMIUM, 'the dashboard in headless Chromium'))('the dashboard in headless Chromium', () => {
  let p: Pipeline;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    // Encryption takes several seconds (real time), so the page's 2 s refresh sees each VM while it is pending.
    p = await startPipeline({
      mode: 'single-pass',
      kek: false,
      durations: { extension: 2_000, adeWindows: 5_000, adeLinuxData: 5_000, adeLinuxOs: 6_000 },
    });
    browser = await chromium.launch({
      executablePath: onPath(CHROMIUM.command) ?? CHROMIUM.command,
      // Chromium refuses its sandbox as root (CI containers).
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await p?.stop();
  });

  const row = (name: string) => page.locator(`#fleet-rows tr[data-vm="${name}"]`);

  it('refuses the page without the function key', async () => {
    const response = await fetch(`${p.host.baseUrl}/api/dashboard`);
    expect(response.status).toBe(401);
  });

  it('shows a failing VM with its reason and next step', async () => {
    await page.goto(`${p.host.baseUrl}/api/dashboard?code=${HUB_KEYS.function}`);
    await expect.poll(() => page.locator('#cards .card[data-state="all"] b').textContent(), { timeout: 15_000 }).toBe('0');
    // Resource Manager refuses the app's extension deployment: the run fails for good with Azure's reason.
    const rule = await p.control<{ id: string }>('POST', '/_sim/faults', {
      service: 'arm',
      operation: EXTENSION_WRITE,
      method: 'PUT',
      status: 403,
      code: 'AuthorizationFailed',
      message: 'The client does not have authorization to perform action Microsoft.Compute/virtualMachines/extensions/write.',
      errorRate: 1,
    });
    try {
      await p.createVm('vm-denied', { os: 'Linux' });
      await eventually(
        'vm-denied to show as failed',
        async () => ((await row('vm-denied').getAttribute('data-state')) === 'failed' ? true : undefined),
        60_000,
      );
    } finally {
      await p.control('DELETE', `/_sim/faults/${rule.id}`);
    }
    const failing = page.locator('#failing li[data-vm="vm-denied"]');
    await expect.poll(() => failing.locator('.reason').textContent(), { timeout: 15_000 }).toContain('AuthorizationFailed');
    await row('vm-denied').click();
    await expect.poll(() => page.locator('#detail-name').textContent(), { timeout: 15_000 }).toBe('vm-denied');
    expect(await page.locator('#detail-state').textContent()).toBe('failed');
    expect(await page.locator('#detail-reason').textContent()).toMatch(/deploySinglePassExtension: .*AuthorizationFailed/);
    expect(await page.locator('#detail-error .next').textContent()).toContain("Grant the app's managed identity");
    await page.click('#close-detail');
    // The same failure in the host's JSON log: one record whose message carries the dimensions, and its OpenTelemetry
    // copy with the dimensions as fields (what Application Insights gets as customDimensions).
    expect(
      p.host.logs.find((r) => r.source === 'OpenTelemetry' && r.event === 'EncryptionFailed' && String(r.vmId).endsWith('/vm-denied')),
    ).toMatchObject({
      message: 'encryptVm failed',
      instanceId: expect.stringMatching(/^encrypt-/),
      phase: 'failed',
      outcome: 'failed',
      reason: expect.stringContaining('AuthorizationFailed'),
    });
    const records = p.host.logs.flatMap((r) => {
      try {
        return [JSON.parse(r.message) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    expect(records.find((r) => r.event === 'EncryptionFailed' && String(r.vmId).endsWith('/vm-denied'))).toMatchObject({
      instanceId: expect.stringMatching(/^encrypt-/),
      phase: 'failed',
      outcome: 'failed',
      reason: expect.stringContaining('AuthorizationFailed'),
    });
  }, 120_000);

  it('sees new VMs go from pending to encrypted', async () => {
    const names = ['vm-web-1', 'vm-db-1'];
    const seen = new Map<string, Set<string>>(names.map((n) => [n, new Set<string>()]));
    let watching = true;
    // Sample the table as the operator sees it while the VMs are created and encrypted.
    const watcher = (async () => {
      while (watching) {
        for (const name of names) {
          const state = await row(name)
            .getAttribute('data-state', { timeout: 200 })
            .catch(() => null);
          if (state) seen.get(name)!.add(state);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await Promise.all([p.createVm('vm-web-1', { os: 'Windows' }), p.createVm('vm-db-1', { os: 'Linux' })]);
    try {
      await eventually(
        'both VMs to show as encrypted',
        async () => {
          const states = await Promise.all(
            names.map((n) =>
              row(n)
                .getAttribute('data-state', { timeout: 200 })
                .catch(() => null),
            ),
          );
          // These reads are samples too: the watcher may stop before its own next read sees the last state.
          states.forEach((s, i) => s && seen.get(names[i]!)!.add(s));
          return states.every((s) => s === 'encrypted') ? true : undefined;
        },
        90_000,
      );
    } finally {
      watching = false;
      await watcher;
    }
    for (const name of names) expect([...seen.get(name)!]).toEqual(['pending', 'encrypted']);
    await expect.poll(() => page.locator('#cards .card[data-state="encrypted"] b').textContent(), { timeout: 15_000 }).toBe('2');
    expect(await page.locator('#cards .card[data-state="failed"] b').textContent()).toBe('1');
    await row('vm-db-1').click();
    await expect.poll(() => page.locator('#detail-name').textContent(), { timeout: 15_000 }).toBe('vm-db-1');
    expect(await page.locator('#detail-disks tr').count()).toBe(2);
    expect(consoleErrors).toEqual([]);
  }, 150_000);

  it('loads the migration report: the ADE VMs with their path, the days left and a CSV link', async () => {
    await page.locator('#migration-load').click();
    await expect.poll(() => page.locator('#migration-days').textContent(), { timeout: 15_000 }).toMatch(/^\d+ days left until 2028-09-15/);
    expect(await page.locator('#migration-rows tr[data-vm="vm-web-1"] td').nth(5).textContent()).toBe('windows');
    expect(await page.locator('#migration-rows tr[data-vm="vm-db-1"] td').nth(5).textContent()).toBe('linux-os-rebuild');
    expect(await page.locator('#migration-csv').getAttribute('href')).toContain('/migration?format=csv');
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('lists a Uniform scale set as a scale set row, filters by kind and shows its instances', async () => {
    await p.compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait('rg-app', 'ss-dash', uniformScaleSet('Windows', 'Automatic'), {
      updateIntervalInMs: 50,
    });
    await eventually(
      'ss-dash to show as an encrypted scale set',
      async () =>
        (await row('ss-dash')
          .getAttribute('data-state', { timeout: 200 })
          .catch(() => null)) === 'encrypted'
          ? true
          : undefined,
      90_000,
    );
    expect(await row('ss-dash').getAttribute('data-kind')).toBe('scaleSet');
    expect(await row('ss-dash').locator('td').nth(1).textContent()).toBe('scale set');
    expect(await row('vm-web-1').getAttribute('data-kind')).toBe('vm');
    await page.selectOption('#f-kind', 'scaleSet');
    await expect.poll(() => page.locator('#fleet-rows tr.vm').count(), { timeout: 15_000 }).toBe(1);
    await row('ss-dash').click();
    await expect.poll(() => page.locator('#detail-name').textContent(), { timeout: 15_000 }).toBe('ss-dash');
    expect(await page.locator('#detail-state').textContent()).toBe('encrypted');
    expect(await page.locator('#detail-facts').textContent()).toContain('0: encrypted, 1: encrypted');
    expect(await page.locator('#encrypt').isHidden()).toBe(true);
    await page.selectOption('#f-kind', '');
    await expect.poll(() => page.locator('#fleet-rows tr.vm').count(), { timeout: 15_000 }).toBeGreaterThan(1);
    expect(consoleErrors).toEqual([]);
  }, 150_000);
});
