// IANA registry numbers for IKEv2 (RFC 7296 section 3 and the IKEv2 parameters registry).

export const IKE_VERSION = 0x20; // major 2, minor 0

export enum ExchangeType {
  IKE_SA_INIT = 34,
  IKE_AUTH = 35,
  CREATE_CHILD_SA = 36,
  INFORMATIONAL = 37,
}

export const HeaderFlag = { INITIATOR: 0x08, VERSION: 0x10, RESPONSE: 0x20 } as const;

export enum PayloadType {
  NONE = 0,
  SA = 33,
  KE = 34,
  IDi = 35,
  IDr = 36,
  CERT = 37,
  CERTREQ = 38,
  AUTH = 39,
  NONCE = 40,
  NOTIFY = 41,
  DELETE = 42,
  VENDOR_ID = 43,
  TSi = 44,
  TSr = 45,
  SK = 46,
  CP = 47,
  EAP = 48,
  SKF = 53, // RFC 7383
}

export enum ProtocolId {
  IKE = 1,
  AH = 2,
  ESP = 3,
}

export enum TransformType {
  ENCR = 1,
  PRF = 2,
  INTEG = 3,
  DH = 4, // "Key Exchange Method" since RFC 9370
  ESN = 5,
}

export enum EncrId {
  AES_CBC = 12,
  AES_GCM_8 = 18,
  AES_GCM_12 = 19,
  AES_GCM_16 = 20,
  CHACHA20_POLY1305 = 28,
}

export enum PrfId {
  HMAC_SHA1 = 2,
  HMAC_SHA2_256 = 5,
  HMAC_SHA2_384 = 6,
  HMAC_SHA2_512 = 7,
}

export enum IntegId {
  NONE = 0,
  HMAC_SHA1_96 = 2,
  HMAC_SHA2_256_128 = 12,
}

export enum DhId {
  NONE = 0,
  MODP_2048 = 14,
  ECP_256 = 19,
  ECP_384 = 20,
  ECP_521 = 21,
  CURVE25519 = 31,
  CURVE448 = 32,
}

export enum EsnId {
  NO = 0,
  YES = 1,
}

export const TransformAttr = { KEY_LENGTH: 14 } as const;

export enum IdType {
  IPV4_ADDR = 1,
  FQDN = 2,
  RFC822_ADDR = 3,
  IPV6_ADDR = 5,
  DER_ASN1_DN = 9,
  DER_ASN1_GN = 10,
  KEY_ID = 11,
}

export enum AuthMethod {
  RSA_SIG = 1,
  PSK = 2,
  DSS_SIG = 3,
  ECDSA_SHA256_P256 = 9,
  ECDSA_SHA384_P384 = 10,
  ECDSA_SHA512_P521 = 11,
  DIGITAL_SIGNATURE = 14, // RFC 7427
}

export enum TsType {
  IPV4_ADDR_RANGE = 7,
  IPV6_ADDR_RANGE = 8,
}

export enum CertEncoding {
  X509_SIGNATURE = 4,
  CRL = 7,
  HASH_URL_X509 = 12,
}

export enum CfgType {
  CFG_REQUEST = 1,
  CFG_REPLY = 2,
  CFG_SET = 3,
  CFG_ACK = 4,
}

/** Notify message types: errors are < 16384, status >= 16384. */
export enum NotifyType {
  UNSUPPORTED_CRITICAL_PAYLOAD = 1,
  INVALID_IKE_SPI = 4,
  INVALID_MAJOR_VERSION = 5,
  INVALID_SYNTAX = 7,
  INVALID_MESSAGE_ID = 9,
  INVALID_SPI = 11,
  NO_PROPOSAL_CHOSEN = 14,
  INVALID_KE_PAYLOAD = 17,
  AUTHENTICATION_FAILED = 24,
  SINGLE_PAIR_REQUIRED = 34,
  NO_ADDITIONAL_SAS = 35,
  INTERNAL_ADDRESS_FAILURE = 36,
  FAILED_CP_REQUIRED = 37,
  TS_UNACCEPTABLE = 38,
  INVALID_SELECTORS = 39,
  TEMPORARY_FAILURE = 43,
  CHILD_SA_NOT_FOUND = 44,

  INITIAL_CONTACT = 16384,
  SET_WINDOW_SIZE = 16385,
  ADDITIONAL_TS_POSSIBLE = 16386,
  IPCOMP_SUPPORTED = 16387,
  NAT_DETECTION_SOURCE_IP = 16388,
  NAT_DETECTION_DESTINATION_IP = 16389,
  COOKIE = 16390,
  USE_TRANSPORT_MODE = 16391,
  HTTP_CERT_LOOKUP_SUPPORTED = 16392,
  REKEY_SA = 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
  NON_FIRST_FRAGMENTS_ALSO = 16395,
  MOBIKE_SUPPORTED = 16396,
  MULTIPLE_AUTH_SUPPORTED = 16404,
  EAP_ONLY_AUTHENTICATION = 16417,
  IKEV2_FRAGMENTATION_SUPPORTED = 16430, // RFC 7383
  SIGNATURE_HASH_ALGORITHMS = 16431, // RFC 7427
  CHILDLESS_IKEV2_SUPPORTED = 16418,
}

export const IKE_PORT = 500;
export const NATT_PORT = 4500;
