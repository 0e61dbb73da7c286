// The dialog layer (RFC 3261 §12).
export * from "./dialog.ts";
