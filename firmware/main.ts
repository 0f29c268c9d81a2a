// Entry point: `outpost --config FILE` runs the box; `outpost status [--json]` asks a running
// daemon; `outpost check-config FILE` validates a config file without touching anything.
import { parseArgs } from 'node:util';
import { loadConfig } from './config/store.ts';
import { validateConfig, formatIssue } from './config/index.ts';
import { parseJsonText } from './config/json.ts';
import { readFile } from 'node:fs/promises';
import { runStatusCommand } from './cli/status.ts';
import { DEFAULT_CONTROL_SOCKET } from './gateway/control.ts';
import { Daemon, FIRMWARE_VERSION } from './daemon.ts';
import { HealthReporter } from './health/reporter.ts';
import { EventTranslator } from './health/event-translator.ts';
import { logger } from './log.ts';
import { startConsole } from '../provisioning/serial-link.ts';
import { PKI_USAGE, isPkiCommand, runPkiCommand } from './pki/cli.ts';
import { Board, firstExchangeSettled } from '../board/index.ts';
import { trimAfterStartup } from '../board/memory.ts';
import { UPDATE_USAGE, isUpdateCommand, runUpdateCommand } from './update/cli.ts';

const USAGE = `usage:
  outpost --config FILE [--tun NAME] [--control-socket PATH]   run the box
          [--console DEVICE]                                   (serial console; default config.console.path)
  outpost status [--json] [--socket PATH]                      show the tunnel and its SAs
  outpost check-config FILE                                    validate a config file
  outpost --version
${UPDATE_USAGE}
${PKI_USAGE}`;

const log = logger('outpost');

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      config: { type: 'string' }, tun: { type: 'string' }, 'control-socket': { type: 'string' }, console: { type: 'string' },
      help: { type: 'boolean' }, version: { type: 'boolean' },
    },
  });
  if (values.help) { process.stdout.write(USAGE + '\n'); return 0; }
  if (values.version) { process.stdout.write(`outpost ${FIRMWARE_VERSION}\n`); return 0; }
  if (!values.config) { process.stderr.write(`outpost: --config FILE is required\n${USAGE}\n`); return 2; }

  let loaded;
  try {
    loaded = await loadConfig(values.config);
  } catch (err) {
    const e = err as { reason?: string; issues?: { path: string; message: string }[]; message: string };
    process.stderr.write(`outpost: cannot use ${values.config}: ${e.reason ?? e.message}\n`);
    for (const i of e.issues ?? []) process.stderr.write(`  ${formatIssue(i)}\n`);
    return 1;
  }
  if (loaded.fallback) log.warn('config-fallback', { file: values.config, reason: loaded.fallback.message, using: 'last-known-good copy' });
  for (const w of loaded.warnings) log.warn('config-warning', { field: w.path, message: w.message });
  const daemon = new Daemon(loaded.config, {
    configPath: values.config,
    controlSocket: values['control-socket'] ?? process.env.OUTPOST_CONTROL_SOCKET ?? DEFAULT_CONTROL_SOCKET,
    tunName: values.tun ?? 'outpost0',
  });
  // Listen for SIGTERM before anything starts: a stop during start-up must still say goodbye to HQ.
  const stopRequested = new Promise<void>((resolve) => {
    const stop = (sig: string) => { log.info('stopping', { signal: sig }); resolve(); };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const board = await Board.open(loaded.config, { watchdog: process.env.OUTPOST_WATCHDOG });
  daemon.beforeTunnel = (cfg) => board.prepareLan(cfg);
  const stopTrim = trimAfterStartup(daemon, { log: log.child('memory') });
  try { await daemon.start(); } catch (e) { board.close(); throw e; }
  // The first IKE exchange is under way now. What is left of start-up (the LEDs' first poll, the
  // health link, the console) waits until it has ended, 1 s at most, so that it does not share the
  // event loop with it; the watchdog is armed at once.
  const settled = firstExchangeSettled(daemon);
  board.attach(daemon, { firstUpdate: settled });
  const health = new HealthReporter(daemon, { firmwareVersion: FIRMWARE_VERSION, rtt: () => daemon.rtt() });
  daemon.healthStatus = () => health.linkStatus();
  daemon.on('event', (e) => {
    if (e.type === 'config-applied' && (e.sections.includes('health') || e.sections.includes('device'))) void health.reconfigure();
  });
  let serialConsole: Awaited<ReturnType<typeof startConsole>> = undefined;
  const first = await Promise.race([settled.then((e) => ({ e })), stopRequested.then(() => null)]);
  if (first) {
    await health.start();
    // The reporter subscribed after the first attempt: a failure that ended it is reported now
    // (a tunnel already up is reported from the status when it starts).
    if (first.e && first.e.type !== 'child-up') for (const body of new EventTranslator().translate({ type: 'tunnel', event: first.e })) health.report(body);
    serialConsole = await startConsole(daemon, { configPath: values.config, firmwareVersion: FIRMWARE_VERSION, path: values.console });
  }
  await stopRequested;
  await serialConsole?.stop();
  await health.stop();
  stopTrim();
  await daemon.stop();
  board.close();
  return 0;
}

async function checkConfig(file: string | undefined): Promise<number> {
  if (!file) { process.stderr.write(`${USAGE}\n`); return 2; }
  const parsed = parseJsonText(await readFile(file, 'utf8'));
  if (!parsed.ok) { process.stderr.write(`${file}:${parsed.line}:${parsed.column}: ${parsed.message}\n`); return 1; }
  const r = validateConfig(parsed.value);
  for (const w of r.warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
  if (!r.ok) {
    for (const e of r.errors) process.stderr.write(`error: ${formatIssue(e)}\n`);
    return 1;
  }
  process.stdout.write(`${file}: valid\n`);
  return 0;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'status') return runStatusCommand(argv.slice(1), process);
  if (argv[0] === 'check-config') return checkConfig(argv[1]);
  if (isPkiCommand(argv[0])) return runPkiCommand(argv, process);
  if (isUpdateCommand(argv[0])) return runUpdateCommand(argv, process);
  return run(argv[0] === 'run' ? argv.slice(1) : argv);
}

main().then((code) => { process.exitCode = code; }, (err) => {
  log.error('fatal', { reason: (err as Error).message });
  process.exitCode = 1;
});
