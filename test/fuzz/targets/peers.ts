// The tunnel policies the IKE targets use: the branch (initiator) and HQ (responder) of the
// interop tests, so strongSwan-captured seeds carry matching identities, proposals and selectors.
import type { TunnelPolicy } from '../../../firmware/ike/policy.ts';
import { policy } from '../../lib/ike-pair.ts';

export const branchPolicy = (): TunnelPolicy => policy();
export const hqPolicy = (): TunnelPolicy => policy({ local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] });
