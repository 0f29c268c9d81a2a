// Short payload summaries for logs, in strongSwan's style: "SA KE No N(NATD_S_IP) N(FRAG_SUP)",
// "IDi AUTH CPRQ(ADDR DNS) SA TSi TSr", "EAP/REQ/ID".
import { CfgType, NotifyType, PayloadType } from '../constants.ts';
import { describeEap } from './eap.ts';
import type { Payload } from './index.ts';

// strongSwan's abbreviations, so logs read the same on both ends of a tunnel.
const NOTIFY_SHORT: Record<number, string> = {
  [NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD]: 'CRIT',
  [NotifyType.INVALID_IKE_SPI]: 'INVAL_IKE_SPI',
  [NotifyType.INVALID_MAJOR_VERSION]: 'INVAL_MAJOR',
  [NotifyType.INVALID_SYNTAX]: 'INVAL_SYN',
  [NotifyType.INVALID_MESSAGE_ID]: 'INVAL_MID',
  [NotifyType.INVALID_SPI]: 'INVAL_SPI',
  [NotifyType.NO_PROPOSAL_CHOSEN]: 'NO_PROP',
  [NotifyType.INVALID_KE_PAYLOAD]: 'INVAL_KE',
  [NotifyType.AUTHENTICATION_FAILED]: 'AUTH_FAILED',
  [NotifyType.SINGLE_PAIR_REQUIRED]: 'SINGLE_PAIR',
  [NotifyType.NO_ADDITIONAL_SAS]: 'NO_ADD_SAS',
  [NotifyType.INTERNAL_ADDRESS_FAILURE]: 'INT_ADDR_FAIL',
  [NotifyType.FAILED_CP_REQUIRED]: 'FAIL_CP_REQ',
  [NotifyType.TS_UNACCEPTABLE]: 'TS_UNACCEPT',
  [NotifyType.INVALID_SELECTORS]: 'INVAL_SEL',
  [NotifyType.TEMPORARY_FAILURE]: 'TEMP_FAIL',
  [NotifyType.CHILD_SA_NOT_FOUND]: 'NO_CHILD_SA',
  [NotifyType.INITIAL_CONTACT]: 'INIT_CONTACT',
  [NotifyType.SET_WINDOW_SIZE]: 'SET_WINSIZE',
  [NotifyType.ADDITIONAL_TS_POSSIBLE]: 'ADD_TS_POSS',
  [NotifyType.IPCOMP_SUPPORTED]: 'IPCOMP_SUP',
  [NotifyType.NAT_DETECTION_SOURCE_IP]: 'NATD_S_IP',
  [NotifyType.NAT_DETECTION_DESTINATION_IP]: 'NATD_D_IP',
  [NotifyType.COOKIE]: 'COOKIE',
  [NotifyType.USE_TRANSPORT_MODE]: 'USE_TRANSP',
  [NotifyType.HTTP_CERT_LOOKUP_SUPPORTED]: 'HTTP_CERT_LOOK',
  [NotifyType.REKEY_SA]: 'REKEY_SA',
  [NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED]: 'ESP_TFC_PAD_N',
  [NotifyType.NON_FIRST_FRAGMENTS_ALSO]: 'NON_FIRST_FRAG',
  [NotifyType.MOBIKE_SUPPORTED]: 'MOBIKE_SUP',
  16403: 'AUTH_LFT',
  [NotifyType.MULTIPLE_AUTH_SUPPORTED]: 'MULT_AUTH',
  16405: 'AUTH_FOLLOWS',
  [NotifyType.EAP_ONLY_AUTHENTICATION]: 'EAP_ONLY',
  [NotifyType.CHILDLESS_IKEV2_SUPPORTED]: 'CHDLESS_SUP',
  16420: 'MSG_ID_SYN_SUP',
  [NotifyType.IKEV2_FRAGMENTATION_SUPPORTED]: 'FRAG_SUP',
  [NotifyType.SIGNATURE_HASH_ALGORITHMS]: 'HASH_ALG',
  16438: 'IKE_INT_SUP',
};

const SIMPLE: Record<number, string> = {
  [PayloadType.SA]: 'SA', [PayloadType.KE]: 'KE', [PayloadType.IDi]: 'IDi', [PayloadType.IDr]: 'IDr',
  [PayloadType.CERT]: 'CERT', [PayloadType.CERTREQ]: 'CERTREQ', [PayloadType.AUTH]: 'AUTH', [PayloadType.NONCE]: 'No',
  [PayloadType.DELETE]: 'D', [PayloadType.VENDOR_ID]: 'V', [PayloadType.TSi]: 'TSi', [PayloadType.TSr]: 'TSr',
  [PayloadType.SK]: 'SK', [PayloadType.SKF]: 'EF',
};

const CP_SHORT: Record<number, string> = {
  [CfgType.CFG_REQUEST]: 'CPRQ', [CfgType.CFG_REPLY]: 'CPRP', [CfgType.CFG_SET]: 'CPS', [CfgType.CFG_ACK]: 'CPA',
};

const CP_ATTR_SHORT: Record<number, string> = {
  1: 'ADDR', 2: 'MASK', 3: 'DNS', 4: 'NBNS', 6: 'DHCP', 7: 'VER', 8: 'ADDR6', 10: 'DNS6', 12: 'DHCP6', 13: 'SUBNET', 14: 'SUP', 15: 'SUBNET6',
};

export function notifyShortName(type: number): string {
  return NOTIFY_SHORT[type] ?? String(type);
}

export function describePayload(p: Payload): string {
  switch (p.type) {
    case PayloadType.NOTIFY: return `N(${notifyShortName(p.notifyType)})`;
    case PayloadType.CP: {
      const attrs = p.attributes.map((a) => CP_ATTR_SHORT[a.type] ?? String(a.type)).join(' ');
      return `${CP_SHORT[p.cfgType] ?? `CP${p.cfgType}`}${attrs ? `(${attrs})` : ''}`;
    }
    case PayloadType.EAP: return describeEap(p);
    default: return SIMPLE[p.type] ?? `P(${(p as { type: number }).type})`;
  }
}

/** "SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP)". */
export function describePayloads(payloads: readonly Payload[]): string {
  return payloads.map(describePayload).join(' ');
}
