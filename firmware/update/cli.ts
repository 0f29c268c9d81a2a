// `outpost update BUNDLE`: installs a signed release bundle side by side and switches to it,
// rolling back by itself when the new version is not healthy in time. `outpost verify-bundle
// BUNDLE` only checks it. Both verify against the release key built into the running firmware.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { bakedReleaseKey } from '../release-key.ts';
import { BundleError, keyIdOf, publicKeyFromRaw } from './manifest.ts';
import { readBundle } from './bundle.ts';
import { DEFAULT_ROOT, installUpdate, shell } from './slots.ts';

export const UPDATE_USAGE = `  outpost update BUNDLE [--root DIR] [--deadline SECONDS] [--restart-cmd CMD | --no-restart]
                 [--health-cmd CMD | --no-health]                install a release, roll back if unhealthy
  outpost verify-bundle BUNDLE                                   check a release bundle's signature and files`;

export interface CommandIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export function isUpdateCommand(cmd: string | undefined): boolean {
  return cmd === 'update' || cmd === 'verify-bundle';
}

/** Runs `update` or `verify-bundle` (argv[0]); resolves with the exit code. */
export async function runUpdateCommand(argv: readonly string[], io: CommandIo, keyOverride?: string): Promise<number> {
  const cmd = argv[0]!;
  let values: Record<string, string | boolean | undefined>, positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv.slice(1), allowPositionals: true, strict: true,
      options: {
        root: { type: 'string' }, deadline: { type: 'string' }, 'restart-cmd': { type: 'string' }, 'no-restart': { type: 'boolean' },
        'health-cmd': { type: 'string' }, 'no-health': { type: 'boolean' }, 'any-arch': { type: 'boolean' },
      },
    }));
  } catch (e) {
    io.stderr.write(`outpost ${cmd}: ${(e as Error).message}\nusage:\n${UPDATE_USAGE}\n`);
    return 2;
  }
  const bundle = positionals[0];
  if (!bundle || positionals.length > 1) { io.stderr.write(`usage:\n${UPDATE_USAGE}\n`); return 2; }
  const baked = keyOverride ? { kind: 'production' as const, publicKey: keyOverride } : bakedReleaseKey();
  if (!baked) {
    io.stderr.write(`outpost ${cmd}: this firmware has no release key built in (run from source?); it cannot verify bundles\n`);
    return 1;
  }
  const publicKey = publicKeyFromRaw(baked.publicKey);
  const say = (s: string) => io.stdout.write(`outpost ${cmd}: ${s}\n`);
  try {
    if (cmd === 'verify-bundle') {
      const m = await readBundle(bundle, { publicKey });
      say(`${bundle}: good signature (${baked.kind} key ${keyIdOf(baked.publicKey)}), ${m.files.length} files intact: ${m.name} ${m.version} for linux-${m.arch}, commit ${m.commit}`);
      return 0;
    }
    const root = (values.root as string | undefined) ?? process.env.OUTPOST_ROOT ?? DEFAULT_ROOT;
    const deadline = Number(values.deadline ?? 120);
    if (!Number.isFinite(deadline) || deadline < 1 || deadline > 3600) { io.stderr.write('outpost update: --deadline takes 1-3600 seconds\n'); return 2; }
    const restartCmd = values['no-restart'] ? null : (values['restart-cmd'] as string | undefined) ?? 'systemctl restart outpost';
    const healthCmd = values['no-health'] ? null : (values['health-cmd'] as string | undefined) ?? `${join(root, 'current', 'bin', 'outpost')} status --json`;
    const r = await installUpdate(bundle, {
      root, publicKey, deadlineMs: deadline * 1000, anyArch: values['any-arch'] === true, say,
      restart: restartCmd ? async () => { await shell(restartCmd); } : null,
      probe: healthCmd ? () => shell(healthCmd, process.env, 15_000) : null,
    });
    if (r.outcome === 'installed') { say(`now running ${r.manifest.version} from slot ${r.slot}`); return 0; }
    if (r.outcome === 'rolled-back') {
      io.stderr.write(`outpost update: ${r.manifest.version} did not become healthy (${r.detail}); rolled back to slot ${r.previous}\n`);
      return 3;
    }
    io.stderr.write(`outpost update: ${r.manifest.version} is installed but not healthy (${r.detail}) and there is no previous version\n`);
    return 3;
  } catch (e) {
    if (e instanceof BundleError) {
      io.stderr.write(`outpost ${cmd}: REFUSED ${bundle}: ${e.message}\n`);
      return 1;
    }
    io.stderr.write(`outpost ${cmd}: ${(e as Error).message}\n`);
    return 1;
  }
}
