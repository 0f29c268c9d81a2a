// `outpost status [--json] [--socket PATH]`: asks the running daemon over the control socket and
// prints its status as text (like `swanctl --list-sas`) or JSON.
// Exit codes: 0 printed, 1 daemon not running or failed, 2 usage error.
import { controlRequest, controlSocketPath, ControlClientError } from './control-client.ts';
import { statusText } from './status-text.ts';
import type { StatusModel } from './status-model.ts';

export interface CommandOutput {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export const STATUS_USAGE = `usage: outpost status [--json] [--socket PATH]

Shows the tunnel, its security associations (algorithms, ages, byte and packet
counters) and the health link of the running outpost daemon.

  --json         print the status as JSON (for scripts)
  --socket PATH  control socket (default: $OUTPOST_CONTROL_SOCKET or /run/outpost/control.sock)
`;

interface StatusArgs { json: boolean; socket?: string }

function parseArgs(argv: readonly string[]): StatusArgs | { help: true } | { error: string } {
  const out: StatusArgs = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') out.json = true;
    else if (a === '-h' || a === '--help') return { help: true };
    else if (a === '--socket') {
      const v = argv[++i];
      if (v === undefined || v === '') return { error: '--socket needs a path' };
      out.socket = v;
    } else if (a.startsWith('--socket=')) {
      const v = a.slice('--socket='.length);
      if (v === '') return { error: '--socket needs a path' };
      out.socket = v;
    } else return { error: `unknown option ${JSON.stringify(a)}` };
  }
  return out;
}

/** Enough of a shape check that statusText cannot trip over a daemon of another version. */
export function isStatusModel(v: unknown): v is StatusModel {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, any>;
  const t = m.tunnel;
  return typeof m.deviceId === 'string' && typeof m.uptimeSeconds === 'number' && typeof m.firmwareVersion === 'string'
    && typeof t === 'object' && t !== null && typeof t.name === 'string' && typeof t.state === 'string'
    && Array.isArray(t.childSas) && typeof t.nat === 'object' && t.nat !== null
    && typeof m.health === 'object' && m.health !== null;
}

/** Runs `outpost status` with the arguments after "status"; resolves with the exit code. */
export async function runStatusCommand(argv: readonly string[], out: CommandOutput): Promise<number> {
  const args = parseArgs(argv);
  if ('help' in args) { out.stdout.write(STATUS_USAGE); return 0; }
  if ('error' in args) { out.stderr.write(`outpost status: ${args.error}\n${STATUS_USAGE}`); return 2; }
  let result: unknown;
  try {
    result = await controlRequest('status', undefined, { socketPath: controlSocketPath(args.socket) });
  } catch (e) {
    out.stderr.write(`${e instanceof ControlClientError ? e.message : `outpost status: ${(e as Error).message}`}\n`);
    return 1;
  }
  if (args.json) {
    out.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  }
  if (!isStatusModel(result)) {
    out.stderr.write('outpost status: the daemon answered with a status this tool does not understand (try --json)\n');
    return 1;
  }
  try {
    out.stdout.write(statusText(result));
  } catch {
    out.stderr.write('outpost status: the daemon answered with a status this tool does not understand (try --json)\n');
    return 1;
  }
  return 0;
}
