// STIR/SHAKEN: PASSporTs in Identity headers (RFC 8224, 8225, 8588), signed and checked.

export * from "./passport.ts";
export * from "./tn.ts";
export * from "./tn-auth-list.ts";
export * from "./shaken.ts";
export * from "./certificate-cache.ts";
export * from "./errors.ts";
export * from "./der.ts";
export * from "./x509.ts";
export * from "./keys.ts";
