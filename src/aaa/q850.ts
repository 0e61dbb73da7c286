// RFC 3398 §8.2.6.1 (SIP final response → ISUP/Q.850 cause) with Cisco IOS's default
// deviations ("show sip-ua map sip-status"), and RFC 3398 §7.2.4.1 / RFC 3326 for the reverse.

/** Q.850 cause values Tandem writes on its own (ITU-T Q.850 Table 1). */
export const Q850 = {
  UNALLOCATED_NUMBER: 1,
  NORMAL_CLEARING: 16,
  USER_BUSY: 17,
  NO_USER_RESPONDING: 18,
  NO_ANSWER: 19,
  CALL_REJECTED: 21,
  NORMAL_UNSPECIFIED: 31,
  NETWORK_OUT_OF_ORDER: 38,
  TEMPORARY_FAILURE: 41,
  SERVICE_UNAVAILABLE: 63,
  RECOVERY_ON_TIMER_EXPIRY: 102,
  INTERWORKING: 127,
} as const;

// RFC 3398 §8.2.6.1 table; where Cisco's default differs, Cisco wins (gateways and billing
// systems downstream of Tandem expect Cisco's numbers): 405→63, 481→41, 487→127, 488→127,
// 503→63, 580→47, 606→58.
const SIP_TO_Q850: Record<number, number> = {
  400: 41,
  401: 21,
  402: 21,
  403: 21,
  404: 1,
  405: 63,
  406: 79,
  407: 21,
  408: 102,
  409: 41,
  410: 22,
  411: 127,
  413: 127,
  414: 127,
  415: 79,
  416: 127,
  420: 127,
  421: 127,
  423: 127,
  480: 18,
  481: 41,
  482: 25,
  483: 25,
  484: 28,
  485: 1,
  486: 17,
  487: 127,
  488: 127,
  500: 41,
  501: 79,
  502: 38,
  503: 63,
  504: 102,
  505: 127,
  513: 127,
  580: 47,
  600: 17,
  603: 21,
  604: 1,
  606: 58,
};

/**
 * Q.850 cause for a SIP final response code. 2xx → 16 (normal clearing); codes not in the
 * table fall back by class: 4xx → 127 (interworking), 5xx → 41, 6xx → 31.
 */
export function sipToQ850(code: number): number {
  if (code >= 200 && code < 300) return Q850.NORMAL_CLEARING;
  const c = SIP_TO_Q850[code];
  if (c !== undefined) return c;
  if (code >= 600) return Q850.NORMAL_UNSPECIFIED;
  if (code >= 500) return Q850.TEMPORARY_FAILURE;
  return Q850.INTERWORKING;
}

// RFC 3398 §7.2.4.1 (ISUP cause → SIP response), used when a Q.850 Reason must become a code.
const Q850_TO_SIP: Record<number, number> = {
  1: 404,
  2: 404,
  3: 404,
  17: 486,
  18: 408,
  19: 480,
  20: 480,
  21: 603,
  22: 410,
  23: 410,
  26: 404,
  27: 502,
  28: 484,
  29: 501,
  31: 480,
  34: 503,
  38: 503,
  41: 503,
  42: 503,
  47: 503,
  55: 403,
  57: 403,
  58: 503,
  63: 503,
  65: 488,
  69: 501,
  70: 488,
  79: 501,
  87: 403,
  88: 503,
  102: 504,
  111: 500,
  127: 500,
};

/** SIP final code for a Q.850 cause (RFC 3398 §7.2.4.1); 21 maps to 603 as Cisco does. */
export function q850ToSip(cause: number): number {
  return Q850_TO_SIP[cause] ?? 500;
}

/** A parsed Reason header value (RFC 3326). */
export interface ReasonValue {
  protocol: "SIP" | "Q.850" | string;
  cause: number;
  text?: string;
}

/** Parses the first value of a Reason header (`Q.850;cause=16;text="Normal call clearing"`). */
export function parseReason(header: string): ReasonValue | undefined {
  const m = /^\s*([A-Za-z0-9.\-]+)\s*((?:;[^,]*)?)/.exec(header);
  if (!m) return undefined;
  const params = m[2];
  const cause = /;\s*cause\s*=\s*(\d+)/i.exec(params);
  if (!cause) return undefined;
  const text = /;\s*text\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(params)?.[1]?.replace(/\\(.)/g, "$1");
  const proto = m[1].toUpperCase() === "Q.850" ? "Q.850" : m[1].toUpperCase();
  return { protocol: proto, cause: Number(cause[1]), text };
}

/**
 * The Q.850 cause of a Reason header: a Q.850 value as is, a SIP value through
 * {@link sipToQ850}; undefined if the header carries neither.
 */
export function reasonToQ850(header: string): number | undefined {
  const r = parseReason(header);
  if (!r) return undefined;
  if (r.protocol === "Q.850") return r.cause;
  if (r.protocol === "SIP") return sipToQ850(r.cause);
  return undefined;
}

/** Cisco h323-disconnect-cause text: the Q.850 cause in hex, two digits, upper case. */
export function q850Hex(cause: number): string {
  return cause.toString(16).toUpperCase().padStart(2, "0");
}
