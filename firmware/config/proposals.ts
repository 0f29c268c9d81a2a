// Checks proposal strings for validateConfig with the IKE module's own parsers, so the config
// accepts exactly what the daemon can negotiate. Returns null when valid, else the reason
// (ProposalError's message, which names the bad keyword and the proposal).
import { parseEspProposal, parseIkeProposal } from '../ike/proposal.ts';

function check(parse: (s: string) => unknown, s: string): string | null {
  // "default", as in swanctl.conf, stands for Outpost's default list (parseIkeProposals expands it).
  if (s.trim() === 'default') return null;
  try {
    parse(s);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export function checkIkeProposal(s: string): string | null {
  return check(parseIkeProposal, s);
}

export function checkEspProposal(s: string): string | null {
  return check(parseEspProposal, s);
}
