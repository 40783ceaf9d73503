/**
 * Shared machinery of the Resource Manager part: state, long-running operations, event emission,
 * scope checks, and background work that is cancelled when state is reset or restored.
 */
import { randomUUID } from 'node:crypto';
import type { Principal, SimContext, SimRequest, SimResponse } from '../contract';
import { armError, isoTime, json, key, newGuid, resourceGroupId } from './http';
import { armEvent, clientRequestIdOf, correlationIdOf, type ArmEventKind, type ArmEventOutcome } from './events';
import { emptyState, type ArmState, type OperationRecord, type ResourceGroupRecord, type SubscriptionRecord } from './state';
import { ArmThrottle } from './throttle';
import { Authorizer } from './authz';

/** Azure's durations (ms) of slow operations, divided by the clock's speed-up when waited out; configurable via the control API. */
export interface Durations {
  vmCreate: number;
  vmUpdate: number;
  vmStart: number;
  vmDeallocate: number;
  vmPowerOff: number;
  vmRestart: number;
  vmDelete: number;
  extension: number;
  extensionDelete: number;
  /** Windows ADE enable, all volumes (the cmdlet's "10–15 minutes"). */
  adeWindows: number;
  /** Linux ADE: data volumes + stamping, until the ARM operation completes. */
  adeLinuxData: number;
  /** Linux ADE: OS volume encryption after the ARM operation completed ("3 to 16 hours"). */
  adeLinuxOs: number;
  resourceGroupDelete: number;
  vaultPurge: number;
  eventSubscription: number;
  /** A preview feature going from Registering to Registered (Microsoft.Features). */
  featureRegistration: number;
}

export function defaultDurations(): Durations {
  return {
    vmCreate: 45_000,
    vmUpdate: 10_000,
    vmStart: 30_000,
    vmDeallocate: 60_000,
    vmPowerOff: 20_000,
    vmRestart: 40_000,
    vmDelete: 30_000,
    extension: 60_000,
    extensionDelete: 30_000,
    adeWindows: 12 * 60_000,
    adeLinuxData: 5 * 60_000,
    adeLinuxOs: 3 * 3_600_000,
    resourceGroupDelete: 20_000,
    vaultPurge: 10_000,
    eventSubscription: 3_000,
    featureRegistration: 60_000,
  };
}

/** Thrown into background work when state was reset underneath it. */
export class Superseded extends Error {
  constructor() {
    super('ARM state was reset; background work abandoned');
  }
}

export interface RequestScope {
  req: SimRequest;
  principal: Principal;
  apiVersion: string;
  correlationId: string;
}

export class ArmCore {
  state: ArmState = emptyState();
  readonly throttle: ArmThrottle;
  /** RBAC over this state's role assignments and custom roles. */
  readonly authz = new Authorizer(() => this.state);
  durations: Durations = defaultDurations();
  /** Bumped on reset/restore so stale background work stops touching new state. */
  generation = 0;

  constructor(readonly ctx: SimContext) {
    this.throttle = new ArmThrottle(ctx.clock);
  }

  nowIso(): string {
    return isoTime(this.ctx.clock.now());
  }

  /** Waits out a slow operation (Azure's duration, shortened by the speed-up), then throws Superseded if state was reset meanwhile. */
  async sleep(azureMs: number, generation: number): Promise<void> {
    if (azureMs > 0) await this.ctx.clock.slowOperation(azureMs);
    if (generation !== this.generation) throw new Superseded();
  }

  /** Runs work in the background; failures are logged, resets are silent. */
  background(name: string, work: () => Promise<void>): void {
    work().catch((error: unknown) => {
      if (error instanceof Superseded) return;
      this.ctx.log('error', `ARM background work failed: ${name}`, { error: error instanceof Error ? error.message : String(error) });
    });
  }

  subscription(subscriptionId: string | undefined, principal?: Principal): SubscriptionRecord {
    const sub = subscriptionId === undefined ? undefined : this.state.subscriptions[key(subscriptionId)];
    if (!sub) {
      throw armError(404, 'SubscriptionNotFound', `The subscription '${subscriptionId ?? ''}' could not be found.`);
    }
    if (principal && principal.kind !== 'platform' && principal.tenantId.toLowerCase() !== sub.tenantId.toLowerCase()) {
      throw armError(
        401,
        'InvalidAuthenticationTokenTenant',
        `The access token is from the wrong issuer 'https://sts.windows.net/${principal.tenantId}/'. It must ` +
          `match the tenant 'https://sts.windows.net/${sub.tenantId}/' associated with this subscription. ` +
          `Please use the authority (URL) 'https://login.windows.net/${sub.tenantId}' to get the token.`,
      );
    }
    if (sub.state !== 'Enabled') {
      throw armError(
        409,
        'ReadOnlyDisabledSubscription',
        `The subscription '${sub.subscriptionId}' is disabled and therefore marked as read only. You cannot ` +
          `perform any write actions on this subscription until it is re-enabled.`,
      );
    }
    return sub;
  }

  resourceGroup(subscriptionId: string, name: string | undefined): ResourceGroupRecord {
    const rg = name === undefined ? undefined : this.state.resourceGroups[key(resourceGroupId(subscriptionId, name))];
    if (!rg || rg.provisioningState === 'Deleting') {
      throw armError(404, 'ResourceGroupNotFound', `Resource group '${name ?? ''}' could not be found.`);
    }
    return rg;
  }

  notFound(fullType: string, name: string, resourceGroup: string): never {
    throw armError(
      404,
      'ResourceNotFound',
      `The Resource '${fullType}/${name}' under resource group '${resourceGroup}' was not found. For more ` +
        `details please go to https://aka.ms/ARMResourceNotFoundFix`,
    );
  }

  /** Starts an operation record; callers run the work and finish it with completeOperation. */
  startOperation(durationMs: number, resourceId?: string): OperationRecord {
    const name = newGuid();
    const op: OperationRecord = {
      id: name,
      name,
      status: 'InProgress',
      startTime: this.nowIso(),
      expectedEnd: this.ctx.clock.now() + this.ctx.clock.shorten(durationMs),
      resourceId,
    };
    this.state.operations[name] = op;
    this.pruneOperations();
    return op;
  }

  completeOperation(op: OperationRecord, error?: { code: string; message: string; details?: unknown[] }, result?: unknown): void {
    op.status = error ? 'Failed' : 'Succeeded';
    op.endTime = this.nowIso();
    if (error) op.error = error;
    if (result !== undefined) op.result = result;
  }

  /** Keeps the operations table bounded: finished operations older than a day go. */
  private pruneOperations(): void {
    const ids = Object.keys(this.state.operations);
    if (ids.length < 20_000) return;
    const cutoff = this.ctx.clock.now() - 86_400_000;
    for (const id of ids) {
      const op = this.state.operations[id]!;
      if (op.status !== 'InProgress' && Date.parse(op.endTime ?? op.startTime) < cutoff) delete this.state.operations[id];
    }
  }

  /** Azure-AsyncOperation and Location URLs of an operation, in the provider's own shape. */
  operationUrls(
    op: OperationRecord,
    subscriptionId: string,
    namespace: string,
    location: string,
    apiVersion: string,
  ): { asyncOperation: string; location: string } {
    const base = `https://management.azure.com/subscriptions/${subscriptionId}/providers/${namespace}/locations/${location}`;
    return {
      // Event Grid names its status collection operationsStatus; Compute and Key Vault use operations.
      asyncOperation:
        `${base}/${namespace.toLowerCase() === 'microsoft.eventgrid' ? 'operationsStatus' : 'operations'}/` +
        `${op.name}?api-version=${apiVersion}`,
      location: `${base}/operationResults/${op.name}?api-version=${apiVersion}`,
    };
  }

  /** Real seconds until the operation is expected to finish (ARM sends Retry-After on polls). */
  retryAfterSeconds(op: OperationRecord): string {
    const remaining = Math.max(0, op.expectedEnd - this.ctx.clock.now()) / 1000;
    return String(Math.min(60, Math.max(1, Math.ceil(remaining))));
  }

  lroHeaders(
    op: OperationRecord,
    subscriptionId: string,
    namespace: string,
    location: string,
    apiVersion: string,
    withLocation: boolean,
  ): Record<string, string> {
    const urls = this.operationUrls(op, subscriptionId, namespace, location, apiVersion);
    const headers: Record<string, string> = { 'azure-asyncoperation': urls.asyncOperation, 'retry-after': this.retryAfterSeconds(op) };
    if (withLocation) headers.location = urls.location;
    return headers;
  }

  /** GET of an Azure-AsyncOperation URL. */
  asyncOperationStatus(opName: string): SimResponse {
    const op = this.state.operations[opName];
    if (!op) throw armError(404, 'NotFound', `The operation '${opName}' could not be found.`);
    const body: Record<string, unknown> = { startTime: op.startTime, status: op.status, name: op.name };
    if (op.endTime) body.endTime = op.endTime;
    if (op.error) body.error = op.error;
    const headers: Record<string, string> = op.status === 'InProgress' ? { 'retry-after': this.retryAfterSeconds(op) } : {};
    return json(200, body, headers);
  }

  /** GET of a Location URL: 202 while running, then the result (200/204) or the error. */
  locationStatus(opName: string, selfUrl: string): SimResponse {
    const op = this.state.operations[opName];
    if (!op) throw armError(404, 'NotFound', `The operation '${opName}' could not be found.`);
    if (op.status === 'InProgress') return { status: 202, headers: { location: selfUrl, 'retry-after': this.retryAfterSeconds(op) } };
    if (op.status === 'Failed' && op.error) return json(op.error.code === 'InternalServerError' ? 500 : 400, { error: op.error });
    if (op.result !== undefined) return json(200, op.result);
    // Compute and Resource Manager answer a finished Location poll with 200 and no content.
    return { status: 200 };
  }

  /** Publishes a Resource Manager event to the subscription's system topic. */
  emit(
    kind: ArmEventKind,
    scope: Pick<RequestScope, 'principal' | 'correlationId'> & { req?: SimRequest },
    subscriptionId: string,
    resourceUri: string,
    operationName: string,
    options: { outcome?: ArmEventOutcome; existing?: boolean } = {},
  ): void {
    const sub = this.state.subscriptions[key(subscriptionId)];
    const rgMatch = /\/resourceGroups\/([^/]+)/i.exec(resourceUri);
    const event = armEvent({
      kind,
      outcome: options.outcome,
      subscriptionId,
      resourceGroup: rgMatch?.[1],
      resourceUri,
      operationName,
      principal: scope.principal,
      correlationId: scope.correlationId,
      tenantId: sub?.tenantId ?? scope.principal.tenantId,
      eventTime: this.nowIso(),
      httpRequest:
        options.existing && scope.req
          ? {
              method: scope.req.method,
              url: `https://management.azure.com${scope.req.path}?${scope.req.query.toString()}`,
              clientRequestId: clientRequestIdOf(scope.req),
            }
          : undefined,
    });
    this.publish(`/subscriptions/${subscriptionId}`, [event]);
    // Resource-group system topics (Microsoft.Resources.ResourceGroups) get the same event with the group as topic.
    if (rgMatch) {
      const groupId = `/subscriptions/${subscriptionId}/resourceGroups/${rgMatch[1]}`;
      this.publish(groupId, [{ ...event, id: randomUUID(), topic: groupId }]);
    }
  }

  publish(source: string, events: import('../contract').GridEvent[]): void {
    try {
      this.ctx.events?.publish(source, events);
    } catch (error) {
      this.ctx.log('warn', 'event publish failed', { source, error: error instanceof Error ? error.message : String(error) });
    }
  }

  scopeOf(req: SimRequest, apiVersion: string): RequestScope {
    if (!req.principal) throw armError(401, 'AuthenticationFailed', 'Authentication failed. The Authorization header is missing.');
    return { req, principal: req.principal, apiVersion, correlationId: correlationIdOf(req) };
  }

  reset(): void {
    this.generation += 1;
    this.state = emptyState();
    this.throttle.reset();
  }

  restore(value: unknown): void {
    this.generation += 1;
    const restored = { ...emptyState(), ...(structuredClone(value) as Partial<ArmState>) };
    // Operations still in progress at snapshot time cannot resume: mark them failed so pollers finish.
    for (const op of Object.values(restored.operations)) {
      if (op.status === 'InProgress') {
        op.status = 'Failed';
        op.endTime = this.nowIso();
        op.error = { code: 'OperationInterrupted', message: 'The simulator state was restored while this operation was running.' };
      }
    }
    // Transitional states whose background work did not survive the restore settle as Azure would report them.
    for (const vm of Object.values(restored.vms)) {
      if (vm.provisioningState === 'Creating' || vm.provisioningState === 'Updating') vm.provisioningState = 'Succeeded';
      if (vm.powerState === 'starting') vm.powerState = 'running';
      if (vm.powerState === 'deallocating') vm.powerState = 'deallocated';
      if (vm.powerState === 'stopping') vm.powerState = 'stopped';
      for (const ext of Object.values(vm.extensions)) {
        if (ext.provisioningState === 'Creating' || ext.provisioningState === 'Updating') ext.provisioningState = 'Failed';
      }
    }
    for (const sub of Object.values(restored.eventSubscriptions)) {
      if (sub.provisioningState === 'Creating') sub.provisioningState = 'Failed';
    }
    this.state = restored;
    this.throttle.reset();
  }
}
