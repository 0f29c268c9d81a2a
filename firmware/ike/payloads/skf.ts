// Encrypted Fragment payload SKF (RFC 7383 2.5): Fragment Number, Total Fragments, then the
// same IV || ciphertext || ICV layout as SK. The associated data covers everything up to and
// including Total Fragments (RFC 7383 2.5.3). Reassembly belongs to the exchange layer.
import { syntaxError } from '../errors.ts';
import { decodeSkBody, encodeSkBody, type SkBody } from './sk.ts';

/** Fragment Number + Total Fragments, which are part of the associated data. */
export const SKF_FIELDS_BYTES = 4;

export interface SkfBody extends SkBody {
  fragmentNumber: number;
  totalFragments: number;
}

export function decodeSkfBody(body: Buffer, nextPayload: number): SkfBody {
  if (body.length < SKF_FIELDS_BYTES) throw syntaxError(`SKF: body of ${body.length} bytes is too short`);
  const fragmentNumber = body.readUInt16BE(0);
  const totalFragments = body.readUInt16BE(2);
  if (fragmentNumber === 0 || totalFragments === 0 || fragmentNumber > totalFragments) {
    throw syntaxError(`SKF: fragment ${fragmentNumber} of ${totalFragments}`);
  }
  // Only the first fragment names the first inner payload (RFC 7383 2.5).
  if (fragmentNumber > 1 && nextPayload !== 0) throw syntaxError(`SKF: fragment ${fragmentNumber} has next payload ${nextPayload}`);
  return { fragmentNumber, totalFragments, ...decodeSkBody(body.subarray(SKF_FIELDS_BYTES), 'SKF') };
}

export function encodeSkfBody(f: SkfBody): Buffer {
  const head = Buffer.alloc(SKF_FIELDS_BYTES);
  head.writeUInt16BE(f.fragmentNumber, 0);
  head.writeUInt16BE(f.totalFragments, 2);
  return Buffer.concat([head, encodeSkBody(f)]);
}
