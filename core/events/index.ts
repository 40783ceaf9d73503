export * from './types';
export { detectSchema, MAX_EVENTS_PER_DELIVERY, parseDelivery, parseEvent, splitDelivery, type ParsedDelivery } from './parse';
export {
  COMMON_ALERT_SCHEMA_ID,
  ALERT_SEVERITIES,
  isCommonAlert,
  MAX_ALERT_TARGETS,
  parseCommonAlert,
  type AlertEssentials,
  type AlertSeverity,
  type CommonAlert,
} from './alert';
export {
  EVENT_ROUTES,
  advancedFilters,
  matchesRoute,
  vaultResourceIdPart,
  type AdvancedFilter,
  type EventRoute,
  type EventRouteName,
  type RoutableEvent,
  type RouteConfiguration,
} from './routes';
export type { Result } from './fields';
