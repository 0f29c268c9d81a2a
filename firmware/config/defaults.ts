// Defaults and limits for the config file. The proposal defaults are the IKE module's own
// (firmware/ike/proposal.ts), so the config and the daemon cannot disagree on them.

export { DEFAULT_IKE_PROPOSALS, DEFAULT_ESP_PROPOSALS } from '../ike/proposal.ts';

export const DEFAULT_DPD_SECONDS = 30;
export const DEFAULT_IKE_LIFETIME_SECONDS = 14400;
export const DEFAULT_CHILD_LIFETIME_SECONDS = 3600;
export const DEFAULT_HEALTH_INTERVAL_SECONDS = 30;
export const DEFAULT_BAUD_RATE = 115200;

/** dpdSeconds: 0 (off) or within this range. */
export const DPD_RANGE = { min: 5, max: 3600 } as const;
export const IKE_LIFETIME_RANGE = { min: 300, max: 86400 } as const;
export const CHILD_LIFETIME_RANGE = { min: 60, max: 86400 } as const;
export const HEALTH_INTERVAL_RANGE = { min: 1, max: 3600 } as const;

/** Rates Linux termios supports that serial adapters commonly use. */
export const STANDARD_BAUD_RATES: readonly number[] = [
  1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1500000,
  2000000, 3000000,
];

export const PSK_MIN_LENGTH = 8;       // below: error
export const PSK_WARN_LENGTH = 20;     // below: warning
export const PSK_MAX_LENGTH = 1024;
export const DEVICE_ID_MAX_LENGTH = 64;
export const MAX_SUBNETS = 64;
export const MAX_PROPOSALS = 16;
export const MAX_CA_FILES = 16;
export const MAX_PATH_LENGTH = 4096;
export const MAX_STRING_LENGTH = 1024;
/** Validation stops collecting after this many errors (a file of garbage gives a bounded report). */
export const MAX_ISSUES = 100;
