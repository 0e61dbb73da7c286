// The SIP message layer: model, parser, serializer, URI and header grammar, semantic checks and
// response building. Pure, no I/O.
export * from "./errors.ts";
export * from "./params.ts";
export * from "./headers.ts";
export * from "./uri.ts";
export * from "./name-addr.ts";
export * from "./via.ts";
export * from "./message.ts";
export * from "./parser.ts";
export * from "./serializer.ts";
export * from "./check.ts";
export * from "./tel.ts";
export * from "./build.ts";
export * from "./call-id-hash.ts";
export * from "./option-tags.ts";
export * from "./methods.ts";
