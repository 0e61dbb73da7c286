// Public surface of the HTTP API layer. The wiring implements ControlPlane, checks exposure on
// config load, then `serveHttp(createApp(control, { token, registry: metrics }), http)`.

export type {
  Awaitable,
  BannedSource,
  CalleeLegSummary,
  CallerLegSummary,
  CallFilter,
  CallSummary,
  ControlPlane,
  DrainResult,
  EffectiveConfig,
  GcResult,
  HealthReport,
  OutboundRegistrationStatus,
  ReadyReport,
  RegistrationStatus,
  ReloadResult,
  RouteStatus,
  ServerStatus,
  TransportHealth,
} from "./control.ts";
export {
  type AppOptions,
  createApp,
  DEFAULT_CALL_LIMIT,
  MAX_CALL_LIMIT,
  PROMETHEUS_CONTENT_TYPE,
} from "./app.ts";
export { type FetchApp, type HttpServer, serveHttp, type ServeOptions } from "./serve.ts";
export { checkHttpExposure, isLoopbackAddress } from "./exposure.ts";
export { HttpExposureError, HttpServeError } from "./errors.ts";
export { bearerToken, timingSafeEqualStrings } from "./auth.ts";
