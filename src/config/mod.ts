// Configuration: loading, validation, defaults and printing. Other layers import from here only.

export type * from "./types.ts";
export { ConfigError, type ConfigIssue, formatIssue } from "./errors.ts";
export {
  type ConfigFormat,
  formatOf,
  loadConfigFile,
  type LoadOptions,
  parseConfig,
} from "./load.ts";
export { DEFAULT_CONFIG_YAML, defaultConfig, EMBEDDED_SOURCE } from "./default.ts";
export { effectiveConfigText, MASK } from "./print.ts";
export { applyUserRewrite, type MatchInput, matchRule, ruleIdentity } from "./match.ts";
export { type Cidr, inCidr, isIp, isPrivateIp, parseCidr, parseIp } from "./cidr.ts";
export { formatDuration, formatSize, parseDuration, parseSize } from "./duration.ts";
export { TANDEM_VERSION } from "./validate-sip.ts";
export { parseRouteTable, tableRoutes } from "./route-table.ts";
