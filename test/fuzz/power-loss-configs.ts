// The configs console-commit-child.ts commits, one per number (shared with the test that checks them).
export function boxConfig(k: number): Record<string, unknown> {
  // sizes vary, so a torn write would show as a parse error
  const remoteSubnets = Array.from({ length: 1 + (k % 40) }, (_, i) => `10.${100 + (i % 100)}.${i}.0/24`);
  return {
    device: { id: `box-${k}` },
    lan: { interface: 'eth1', address: '10.1.0.1/24' },
    tunnel: { remote: '198.51.100.2', localId: 'branch.example.net', remoteId: 'hq.example.net', auth: { psk: 'power-loss-test-psk-0123456789' }, remoteSubnets },
  };
}
