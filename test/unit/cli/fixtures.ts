import type { StatusModel } from '../../../firmware/cli/status-model.ts';

/** A tunnel that is up with one child SA, as the daemon would report it. */
export function upModel(): StatusModel {
  return {
    version: 1,
    deviceId: 'branch-042',
    firmwareVersion: '0.1.0',
    uptimeSeconds: 2 * 86400 + 3 * 3600 + 7,
    tunnel: {
      name: 'hq',
      state: 'up',
      local: { address: '192.0.2.10', port: 4500 },
      remote: { address: '198.51.100.1', port: 4500 },
      nat: { local: true, remote: false },
      ikeSa: {
        spiInitiator: '8a3b1c2d4e5f6071',
        spiResponder: '9182736455463728',
        role: 'initiator',
        localId: 'branch-042.example.net',
        remoteId: 'hq.example.net',
        algorithms: 'AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519',
        establishedSeconds: 192,
        rekeySeconds: 14208,
      },
      childSas: [{
        name: 'net',
        spiIn: 'c1a2b3c4',
        spiOut: 'c5d6e7f8',
        algorithms: 'AES_GCM_16-256',
        esn: false,
        localTs: ['10.1.0.0/24'],
        remoteTs: ['10.2.0.0/16'],
        establishedSeconds: 192,
        rekeySeconds: 3408,
        bytesIn: 1234567,
        bytesOut: 5678,
        packetsIn: 1021,
        packetsOut: 1,
        drops: { replay: 3, auth: 1, 'no-sa': 0 },
      }],
      lastError: null,
    },
    health: { broker: 'mqtts://fleet.example.net:8883', connected: true, lastPublishSeconds: 12 },
  };
}

/** Down after an authentication failure, health link lost. */
export function downModel(): StatusModel {
  return {
    version: 1,
    deviceId: 'branch-042',
    firmwareVersion: '0.1.0',
    uptimeSeconds: 45,
    tunnel: {
      name: 'hq',
      state: 'down',
      local: null,
      remote: { address: '2001:db8::1', port: 500 },
      nat: { local: false, remote: false },
      ikeSa: null,
      childSas: [],
      lastError: { message: 'AUTHENTICATION_FAILED from peer \u001b[31m', ageSeconds: 300 },
    },
    health: { broker: 'mqtts://fleet.example.net:8883', connected: false, lastPublishSeconds: null },
  };
}
