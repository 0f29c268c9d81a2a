// ESP, sans-I/O: SA seal/open with anti-replay, drop reasons, RFC 3948 UDP framing.
export * from './drops.ts';
export * from './packet.ts';
export * from './replay.ts';
export * from './sa.ts';
export * from './udp-encap.ts';
