// Preloaded into the daemon by soak.bench.ts (NODE_OPTIONS=--import): every SOAK_PROBE_MS it
// prints one line with what would grow if something leaked: resident memory, heap, open file
// descriptors, libuv resources by type, live timers (counted here: the daemon unrefs its timers,
// which getActiveResourcesInfo does not list), process listeners and MaxListeners warnings.
import { readdirSync } from 'node:fs';

const live = new Set();
const { setTimeout: st, clearTimeout: ct, setInterval: si, clearInterval: ci } = globalThis;
globalThis.setTimeout = function (fn, ms, ...args) {
  const t = st.call(this, function (...a) { live.delete(t); return typeof fn === 'function' ? fn.apply(this, a) : undefined; }, ms, ...args);
  live.add(t);
  return t;
};
globalThis.clearTimeout = function (t) { live.delete(t); return ct.call(this, t); };
globalThis.setInterval = function (...a) { const t = si.apply(this, a); live.add(t); return t; };
globalThis.clearInterval = function (t) { live.delete(t); return ci.call(this, t); };

let maxListenerWarnings = 0;
process.on('warning', (w) => { if (w.name === 'MaxListenersExceededWarning') maxListenerWarnings++; });

const every = Number(process.env.SOAK_PROBE_MS ?? 5000);
let probe;
const sample = () => {
  const resources = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  const listeners = process.eventNames().reduce((n, e) => n + process.listenerCount(e), 0);
  const m = process.memoryUsage();
  const timers = [...live].filter((t) => t !== probe).length;
  process.stderr.write(`soak-probe ${JSON.stringify({ t: Date.now(), rss: m.rss, heapUsed: m.heapUsed, external: m.external, fds: readdirSync('/proc/self/fd').length, timers, resources, listeners, maxListenerWarnings })}\n`);
};
probe = si(sample, every);
probe.unref();
