// The soak needs what the interop tests need; outside the test runner it exits with the reason.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export function requireEnvOrExit(): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const c of ['ip', 'ping', 'swanctl']) {
    try { execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }); } catch { missing.push(c); }
  }
  for (const f of ['/usr/lib/ipsec/charon', '/dev/net/tun']) if (!existsSync(f)) missing.push(f);
  if (missing.length) {
    console.log(`soak: SKIPPED, needs ${missing.join(', ')}`);
    process.exit(0);
  }
}
