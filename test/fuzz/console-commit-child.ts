// A child for console-power-loss.test.ts: commits configs in a loop through the console's
// committer (and so through firmware/config/store.ts), printing "begin K" before and "done K"
// after each commit, until it is killed. Every third commit is a "commit confirmed" + confirm.
import { writeSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { Committer } from '../../provisioning/committer.ts';
import { realClock } from '../../provisioning/clock.ts';
import { loadConfig } from '../../firmware/config/store.ts';
import { validateConfig } from '../../firmware/config/validate.ts';
import { setLogLevel, logger } from '../../firmware/log.ts';
import type { ResolvedConfig } from '../../firmware/config/schema.ts';
import { boxConfig } from './power-loss-configs.ts';

setLogLevel('error');
const configPath = process.argv[2]!;

async function main(): Promise<void> {
  const loaded = await loadConfig(configPath);
  const daemon = Object.assign(new EventEmitter(), {
    config: loaded.config as ResolvedConfig,
    async applyConfig(next: ResolvedConfig) { daemon.config = next; return ['device', 'tunnel']; },
    status: () => { throw new Error('not used'); },
    healthStatus: () => ({ broker: null, connected: false, lastPublishSeconds: null }),
  });
  const c = new Committer({ configPath, daemon, clock: realClock, log: logger('child') });
  await c.init();
  if (c.pendingConfirm) await c.confirm(); // killed inside a window last time: keep what is there
  let k = Number(String((loaded.raw as { device: { id: string } }).device.id).split('-')[1] ?? 0) + 1;
  writeSync(1, 'ready\n');
  for (;;) {
    const raw = boxConfig(k);
    if (!validateConfig(raw).ok) throw new Error('bad test config');
    writeSync(1, `begin ${k}\n`);
    if (k % 3 === 0) {
      await c.commit(raw, { confirmMinutes: 1 });
      await c.confirm();
    } else {
      await c.commit(raw);
    }
    writeSync(1, `done ${k}\n`);
    k++;
  }
}

void main().catch((e) => { writeSync(2, `child failed: ${(e as Error).stack}\n`); process.exit(3); });
