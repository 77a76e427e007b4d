// One error module: every failure vnat reports is a VnatError with an exit code and a
// one-line message of the form "context: cause". The entry points are the only places
// that print and exit.

export type ErrorKind = "invalid-input" | "conflict" | "apply-failed" | "rollback-incomplete" | "internal";

const EXIT_CODES: Record<ErrorKind, number> = {
  "invalid-input": 2,
  conflict: 3,
  "apply-failed": 4,
  "rollback-incomplete": 5,
  internal: 70,
};

export class VnatError extends Error {
  readonly kind: ErrorKind;
  readonly details: string[];
  constructor(kind: ErrorKind, message: string, details: string[] = []) {
    super(message);
    this.name = "VnatError";
    this.kind = kind;
    this.details = details;
  }
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** Bad input: names the object and says what is allowed. */
export const invalid = (message: string): VnatError => new VnatError("invalid-input", message);

/** Something on the host already holds what the network needs. */
export const conflict = (message: string): VnatError => new VnatError("conflict", message);

/** Longest line oneLine returns: a hostile value echoed in a message must not flood virsh's error. */
export const MAX_LINE = 600;

/**
 * The single line to show a user: no newlines, no stack, no control characters from input
 * (C0, C1, Unicode line separators and bidi overrides, which could disguise the message).
 */
export function oneLine(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err))
    .replace(/\s*\n\s*/g, "; ")
    .replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, "?")
    .trim();
  return text.length > MAX_LINE ? `${text.slice(0, MAX_LINE - 1)}…` : text;
}
