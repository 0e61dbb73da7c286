// Failures of the CDR journal and sinks, one class per family.

/** The journal directory cannot be used (permissions, disk full, closed journal). */
export class CdrJournalError extends Error {
  override name = "CdrJournalError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A sink could not take a batch; the pipeline retries it with back-off. */
export class CdrSinkError extends Error {
  override name = "CdrSinkError";
  constructor(public readonly sink: string, message: string, options?: { cause?: unknown }) {
    super(`CDR sink ${sink}: ${message}`, options);
  }
}
