// The DESIGN.md example config, as a fresh object per call so tests can mutate it.
export function exampleConfig(): any {
  return {
    device: { id: 'branch-042' },
    lan: { interface: 'eth1', address: '10.1.0.1/24' },
    tunnel: {
      remote: 'hq.example.net',
      localId: 'branch-042.example.net',
      remoteId: 'hq.example.net',
      auth: { psk: 'correct-horse-battery-staple-42' },
      localSubnets: ['10.1.0.0/24'],
      remoteSubnets: ['10.2.0.0/16'],
      ike: ['aes256gcm16-prfsha256-x25519', 'chacha20poly1305-prfsha256-x25519'],
      esp: ['aes256gcm16', 'chacha20poly1305'],
      dpdSeconds: 30,
      ikeLifetimeSeconds: 14400,
      childLifetimeSeconds: 3600,
    },
    health: { broker: 'mqtts://fleet.example.net:8883', intervalSeconds: 30 },
    console: { path: '/dev/serial0', baudRate: 115200 },
  };
}

/** Only the required fields. */
export function minimalConfig(): any {
  return {
    device: { id: 'branch-042' },
    lan: { interface: 'eth1', address: '10.1.0.1/24' },
    tunnel: {
      remote: 'hq.example.net',
      localId: 'branch-042.example.net',
      auth: { psk: 'correct-horse-battery-staple-42' },
      remoteSubnets: ['10.2.0.0/16'],
    },
  };
}
