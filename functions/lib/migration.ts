/**
 * The work behind `GET /api/migration`: every ADE VM in scope with its documented way off ADE (core/migration.ts),
 * and the days left until ADE retires, counted from the request time. JSON, or CSV with `?format=csv`.
 * Reads only: VMs page by page, each region's resource SKUs once (the adapter caches them), and each subscription's
 * `Microsoft.Compute/EncryptionAtHost` feature registration.
 */
import type { ComputePort } from '../../azure/ports';
import { assessVm, type SkipReason } from '../../core/eligibility';
import { toErrorInfo } from '../../core/errors';
import {
  ADE_RETIREMENT_DATE,
  daysUntilRetirement,
  migrationCsv,
  migrationRowOf,
  MIGRATION_PATHS,
  type MigrationPath,
  type MigrationRow,
} from '../../core/migration';
import type { EncryptionPolicy } from '../../core/policy';
import type { Log } from './log';

export interface MigrationDeps {
  policy: EncryptionPolicy;
  compute: Pick<ComputePort, 'listVms' | 'sizeSupportsEncryptionAtHost' | 'encryptionAtHostFeatureState'>;
  /** The request time (the days left are counted from it). */
  now: () => Date;
  log: Log;
}

export interface MigrationAnswer {
  status: number;
  /** JSON body, or the CSV text. */
  body: Record<string, unknown> | string;
  headers?: Record<string, string>;
}

/** Scope reasons: the operator said "not mine" (ADE_SUBSCRIPTIONS, resource-group patterns, exclusion tag, OS filter). */
const OUT_OF_SCOPE: ReadonlySet<SkipReason> = new Set([
  'subscription-out-of-scope',
  'resource-group-not-included',
  'resource-group-excluded',
  'exclusion-tag',
  'os-filtered',
]);

export async function handleMigrationReport(query: URLSearchParams, deps: MigrationDeps): Promise<MigrationAnswer> {
  const format = (query.get('format') ?? 'json').toLowerCase();
  if (format !== 'json' && format !== 'csv')
    return { status: 400, body: { error: `format: expected "json" or "csv"; got "${format.slice(0, 20)}"` } };
  const now = deps.now();
  const daysLeft = daysUntilRetirement(now);
  const rows: MigrationRow[] = [];
  const features: Array<{ subscriptionId: string; encryptionAtHostFeature: string }> = [];
  try {
    for (const subscriptionId of deps.policy.scope.subscriptions) {
      let token: string | undefined;
      do {
        const page = await deps.compute.listVms(subscriptionId, token);
        for (const vm of page.vms) {
          const assessment = assessVm(vm, deps.policy);
          if (assessment.decision === 'skip' && OUT_OF_SCOPE.has(assessment.reason)) continue;
          if (!migrationRowOf(vm, true)) continue; // no ADE: nothing to migrate
          const sizeSupported = await deps.compute.sizeSupportsEncryptionAtHost(vm.subscriptionId, vm.location, vm.vmSize);
          rows.push(migrationRowOf(vm, sizeSupported)!);
        }
        token = page.continuationToken;
      } while (token);
      features.push({ subscriptionId, encryptionAtHostFeature: await deps.compute.encryptionAtHostFeatureState(subscriptionId) });
    }
  } catch (error) {
    const info = toErrorInfo(error);
    deps.log('error', `migration report failed: ${info.message}`);
    return { status: 502, body: { error: info.message } };
  }
  rows.sort((a, b) => a.vmId.localeCompare(b.vmId));
  deps.log('info', `migration report: ${rows.length} ADE VM(s), ${daysLeft} day(s) left`);
  if (format === 'csv')
    return {
      status: 200,
      body: migrationCsv(rows, daysLeft),
      headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="ade-migration.csv"' },
    };
  const byPath = Object.fromEntries(
    (Object.keys(MIGRATION_PATHS) as MigrationPath[]).map((p) => [p, rows.filter((r) => r.path === p).length]),
  );
  return {
    status: 200,
    body: {
      asOf: now.toISOString(),
      retirementDate: ADE_RETIREMENT_DATE,
      daysLeft,
      total: rows.length,
      byPath,
      paths: MIGRATION_PATHS,
      subscriptions: features,
      vms: rows,
    },
  };
}
