// The config file (DESIGN.md, "Contracts") as TypeScript types: `ConfigFile` is what a technician
// writes (optional fields may be left out), `ResolvedConfig` is what the daemon uses (defaults
// applied, addresses in canonical text). A ResolvedConfig is itself a valid ConfigFile, so it can
// be exported (through redactConfig) and loaded again.

/** Authentication with a pre-shared key. The key is the UTF-8 bytes of the string. */
export interface PskAuth {
  psk: string;
}

/** Authentication with a private key and certificate; all values are absolute file paths. */
export interface CertAuth {
  key: string;
  cert: string;
  /** Trust anchors (CA certificates) for the peer's certificate; at least one. */
  ca: string[];
  /** Certificate revocation lists, optional. */
  crl?: string[];
}

export type TunnelAuth = PskAuth | CertAuth;

export interface DeviceSection {
  /** Names the box in MQTT topics (outpost/<id>/...): 1-64 characters, no "+", "#", "/" or control characters. */
  id: string;
}

export interface LanSection {
  /** Linux interface name of the branch LAN port, e.g. "eth1". */
  interface: string;
  /** The box's own address on the LAN with its prefix, e.g. "10.1.0.1/24" (host bits expected). */
  address: string;
}

export interface TunnelSection {
  /** HQ's host name or IP literal (Outpost initiates), or "%any" (Outpost is the responder). */
  remote: string;
  /** Our IKE identity: FQDN, email, IP address, or DN ("CN=..,O=.."). */
  localId: string;
  /** The identity the peer must prove. Defaults to `remote` unless remote is "%any"; "%any" accepts any authenticated peer. */
  remoteId?: string;
  auth: TunnelAuth;
  /** Default: the network of lan.address. */
  localSubnets?: string[];
  remoteSubnets: string[];
  /** IKE proposals in strongSwan syntax, most preferred first. */
  ike?: string[];
  /** ESP proposals in strongSwan syntax, most preferred first. */
  esp?: string[];
  /** Dead peer detection interval; 0 turns it off. Default 30. */
  dpdSeconds?: number;
  /** Default 14400 (4 h). */
  ikeLifetimeSeconds?: number;
  /** Default 3600 (1 h). */
  childLifetimeSeconds?: number;
}

export interface HealthSection {
  /** mqtt://host[:port] or mqtts://host[:port]; credentials go in username/password, not the URL. */
  broker: string;
  /** Default 30. */
  intervalSeconds?: number;
  /** CA certificate file for the broker (mqtts only). */
  ca?: string;
  /** Client certificate and key files (mqtts only; both or neither). */
  cert?: string;
  key?: string;
  username?: string;
  password?: string;
}

export interface ConsoleSection {
  /** Serial device, e.g. "/dev/serial0". */
  path: string;
  /** Default 115200. */
  baudRate?: number;
}

/** Board profiles (board/profiles.ts): console, LEDs, watchdog, thermal zone, interface names. */
export const BOARD_PROFILES = ['rpi4', 'rpi5', 'cm4', 'generic'] as const;
export type BoardProfileId = (typeof BOARD_PROFILES)[number];

export interface BoardSection {
  /** Absent: detected from /proc/device-tree/model ("generic" where it says nothing known). */
  profile?: BoardProfileId;
}

export interface ConfigFile {
  device: DeviceSection;
  lan: LanSection;
  tunnel: TunnelSection;
  /** Absent: the box does not report to a fleet broker (a warning at validation). */
  health?: HealthSection;
  /** Absent: the board profile's console device at 115200 baud. */
  console?: ConsoleSection;
  /** Absent: the board is detected. */
  board?: BoardSection;
}

export interface ResolvedCertAuth {
  key: string;
  cert: string;
  ca: string[];
  crl: string[];
}

export type ResolvedAuth = PskAuth | ResolvedCertAuth;

export interface ResolvedTunnel {
  remote: string;
  localId: string;
  /** Always set: an identity, or "%any" (only if written explicitly). */
  remoteId: string;
  auth: ResolvedAuth;
  localSubnets: string[];
  remoteSubnets: string[];
  ike: string[];
  esp: string[];
  dpdSeconds: number;
  ikeLifetimeSeconds: number;
  childLifetimeSeconds: number;
}

export interface ResolvedHealth {
  broker: string;
  intervalSeconds: number;
  ca?: string;
  cert?: string;
  key?: string;
  username?: string;
  password?: string;
}

export interface ResolvedConsole {
  path: string;
  baudRate: number;
}

export interface ResolvedConfig {
  device: DeviceSection;
  lan: LanSection;
  tunnel: ResolvedTunnel;
  health?: ResolvedHealth;
  console?: ResolvedConsole;
  board?: BoardSection;
}

/** "%any" as tunnel.remote: Outpost waits for the peer (responder). */
export const ANY = '%any';

export function isResponder(cfg: { tunnel: { remote: string } }): boolean {
  return cfg.tunnel.remote === ANY;
}

export function isPskAuth(a: TunnelAuth | ResolvedAuth): a is PskAuth {
  return 'psk' in a;
}
