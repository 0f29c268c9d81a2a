// Errors of the config module: validation issues (one per problem, naming the field) and
// file errors (read, parse, write), both written for the technician at the serial console.

export interface ConfigIssue {
  /** The field, as "tunnel.remoteSubnets[1]"; "config" for the whole file. */
  path: string;
  /** What is wrong and, where possible, how to fix it. Never contains a secret. */
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.path}: ${i.message}`;
}

export type ConfigFileErrorKind =
  | 'missing'   // the file does not exist
  | 'read'      // it exists but cannot be read
  | 'too-large' // bigger than MAX_CONFIG_BYTES
  | 'parse'     // not valid JSON (line/column in the reason)
  | 'invalid'   // valid JSON that fails validation (issues attached)
  | 'write';    // persisting failed

export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
  constructor(
    readonly kind: ConfigFileErrorKind,
    readonly path: string,
    readonly reason: string,
    readonly issues: ConfigIssue[] = [],
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${reason}${issues.length ? '\n' + issues.map((i) => '  ' + formatIssue(i)).join('\n') : ''}`, options);
  }
}
