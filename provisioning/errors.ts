// The console's one error type: a code tools can branch on, a sentence for the technician, and
// the field it is about. Messages never contain a secret value.
import type { ConfigIssue } from '../firmware/config/errors.ts';

export type ConsoleErrorCode =
  | 'unknown-command' // no such command
  | 'usage'           // wrong arguments for the command
  | 'bad-request'     // a machine request that is not a valid request object
  | 'bad-json'        // a line starting with "{" that is not JSON
  | 'line-too-long'   // a line over the limit, discarded
  | 'not-text'        // a line with bytes that are not text (noise, wrong baud rate), discarded
  | 'busy'            // too many lines queued while a command runs
  | 'unknown-field'   // set/unset/show of a field that does not exist
  | 'invalid'         // a value or the whole config fails validation (issues attached)
  | 'login-required'  // the command changes or reveals configuration
  | 'no-pin'          // no console PIN yet: set one first
  | 'wrong-pin'
  | 'retry-later'     // too many wrong PINs: wait (retryInSeconds)
  | 'pin-state'       // the PIN state file is unusable
  | 'nothing-to-commit'
  | 'no-pending-commit'
  | 'write-failed'    // the config could not be saved (the old one is in force)
  | 'apply-failed'    // saved but could not be applied (the old one was restored)
  | 'not-available'   // a command whose feature is not in this firmware yet
  | 'exists'          // would overwrite something that must not be lost silently (a key)
  | 'no-factory-config'
  | 'cancelled'
  | 'internal';      // a bug or an unexpected system error

export interface ErrorBody {
  code: ConsoleErrorCode;
  message: string;
  field?: string;
  issues?: { field: string; message: string }[];
  retryInSeconds?: number;
}

export class ConsoleError extends Error {
  override readonly name = 'ConsoleError';
  constructor(
    readonly code: ConsoleErrorCode,
    message: string,
    readonly extra: { field?: string; issues?: ConfigIssue[]; retryInSeconds?: number } = {},
  ) {
    super(message);
  }

  toBody(): ErrorBody {
    const b: ErrorBody = { code: this.code, message: this.message };
    if (this.extra.field !== undefined) b.field = this.extra.field;
    if (this.extra.issues?.length) b.issues = this.extra.issues.map((i) => ({ field: i.path, message: i.message }));
    if (this.extra.retryInSeconds !== undefined) b.retryInSeconds = this.extra.retryInSeconds;
    return b;
  }
}

/** Any thrown value as an error body; unexpected errors keep their message (no secrets there). */
export function errorBody(e: unknown): ErrorBody {
  if (e instanceof ConsoleError) return e.toBody();
  return { code: 'internal', message: `internal error: ${(e as Error)?.message ?? String(e)}` };
}
