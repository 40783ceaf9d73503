/**
 * Mounting the Resource Manager and Event Grid parts (built alongside the front end, see
 * contract.ts). Either can be replaced through startSimulator's options (or left out with `null`),
 * in which case its hosts and control routes answer a clear 501 "not mounted".
 */
import type { EventBus, Service, SimContext, SimRequest, SimResponse, VaultDirectory } from '../contract';
import { createArmService } from '../arm';
import { createEventGrid } from '../eventgrid';

export interface ArmService extends Service, VaultDirectory {
  handleControl(req: SimRequest): Promise<SimResponse | undefined>;
  /** Platform grant of a role (`{ principalId, scope, roleName | roleDefinitionId }`); absent in stand-in parts. */
  grantRole?(body: Record<string, unknown>, dryRun?: boolean): void;
  stop?(): void;
}

export interface EventGridParts {
  bus: EventBus;
  dataService: Service;
  stop?(): void;
}

export interface LoadedParts {
  arm?: ArmService;
  eventgrid?: EventGridParts;
  stop(): void;
}

export function loadParts(
  ctx: SimContext,
  opts: { createArm?: ((ctx: SimContext) => ArmService) | null; createEventGrid?: ((ctx: SimContext) => EventGridParts) | null },
): LoadedParts {
  const makeEventGrid = opts.createEventGrid === undefined ? createEventGrid : opts.createEventGrid;
  const makeArm = opts.createArm === undefined ? createArmService : opts.createArm;
  // Event Grid first: Resource Manager publishes events as soon as it exists.
  const eventgrid: EventGridParts | undefined = makeEventGrid?.(ctx) ?? undefined;
  if (eventgrid) ctx.events = eventgrid.bus;
  const arm: ArmService | undefined = makeArm?.(ctx) ?? undefined;
  return {
    arm,
    eventgrid,
    stop() {
      arm?.stop?.();
      eventgrid?.stop?.();
    },
  };
}
