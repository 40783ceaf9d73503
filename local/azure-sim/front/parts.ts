/**
 * Mounting the Resource Manager and Event Grid parts (built alongside the front end, see
 * contract.ts). They are loaded when present; until then the simulator answers their hosts and
 * control routes with a clear 501 "not mounted".
 */
import type { EventBus, Service, SimContext, SimRequest, SimResponse, VaultDirectory } from '../contract';

export interface ArmService extends Service, VaultDirectory {
  handleControl(req: SimRequest): Promise<SimResponse | undefined>;
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
  stop?(): void;
}

export function loadOptionalParts(
  ctx: SimContext,
  opts: { createArm?: (ctx: SimContext) => ArmService; createEventGrid?: (ctx: SimContext) => EventGridParts; log: SimContext['log'] },
): LoadedParts {
  const createEventGrid = opts.createEventGrid ?? optionalExport<(ctx: SimContext) => EventGridParts>('../eventgrid', 'createEventGrid', opts.log);
  const createArm = opts.createArm ?? optionalExport<(ctx: SimContext) => ArmService>('../arm', 'createArmService', opts.log);
  // Event Grid first: ARM publishes events as soon as it exists.
  const eventgrid = createEventGrid?.(ctx);
  if (eventgrid) ctx.events = eventgrid.bus;
  const arm = createArm?.(ctx);
  return {
    arm,
    eventgrid,
    stop() {
      arm?.stop?.();
      eventgrid?.stop?.();
    },
  };
}

function optionalExport<T>(modulePath: string, name: string, log: SimContext['log']): T | undefined {
  let mod: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(modulePath) as Record<string, unknown>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'MODULE_NOT_FOUND') log('warn', `could not load ${modulePath}`, { error: (err as Error).message });
    else log('info', `${modulePath} is not present; its hosts answer 501 "not mounted"`);
    return undefined;
  }
  const factory = mod[name];
  return typeof factory === 'function' ? (factory as T) : undefined;
}
