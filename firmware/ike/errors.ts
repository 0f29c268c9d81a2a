// Typed decode errors for the IKE wire codec. The exchange code turns them into a reply (or a
// silent drop): `notify` is the Notify type to answer with, `data` its notification data.
import { NotifyType } from './constants.ts';

export type IkeDecodeErrorKind =
  /** Malformed structure: lengths, counts, reserved combinations, bad padding. */
  | 'syntax'
  /** An unknown payload with the critical bit set; `data` is its one-octet payload type. */
  | 'unsupported-critical'
  /** Header major version is not 2. RFC 7296 2.5: answer (only if higher) with our version in the header. */
  | 'major-version'
  /** The SK/SKF ICV did not verify: drop silently (RFC 7296 2.21.2), hence `notify === null`. */
  | 'integrity'
  /** A traffic selector type we do not know (RFC 9478 peers expect TS_UNACCEPTABLE). */
  | 'unknown-ts-type'
  /** A resource bound was hit (message size, payload count). */
  | 'limit';

export class IkeDecodeError extends Error {
  override readonly name = 'IkeDecodeError';
  constructor(
    readonly kind: IkeDecodeErrorKind,
    /** What to answer with; null means drop without a reply. */
    readonly notify: NotifyType | null,
    readonly detail: string,
    /** Notification data for the reply, when the notify type defines some. */
    readonly data?: Buffer,
  ) {
    super(`${kind}: ${detail}`);
  }
}

export function syntaxError(detail: string): IkeDecodeError {
  return new IkeDecodeError('syntax', NotifyType.INVALID_SYNTAX, detail);
}

export function limitError(detail: string): IkeDecodeError {
  return new IkeDecodeError('limit', NotifyType.INVALID_SYNTAX, detail);
}

export function criticalError(payloadType: number): IkeDecodeError {
  return new IkeDecodeError(
    'unsupported-critical',
    NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD,
    `unsupported critical payload type ${payloadType}`,
    Buffer.from([payloadType & 0xff]),
  );
}

export function integrityError(detail: string): IkeDecodeError {
  return new IkeDecodeError('integrity', null, detail);
}

export function isIkeDecodeError(e: unknown): e is IkeDecodeError {
  return e instanceof IkeDecodeError;
}
