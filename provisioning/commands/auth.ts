// The console PIN: login, logout, pin set. Wrong PINs slow down exponentially (pin.ts).
import { ConsoleError } from '../errors.ts';
import { pinProblem } from '../pin.ts';
import type { CommandContext, CommandDef } from './types.ts';

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Refuses at once (before asking for the PIN) when no attempt would be accepted. */
function checkCanTry(ctx: CommandContext): void {
  if (!ctx.pins.isSet) throw new ConsoleError('no-pin', 'no console PIN is set yet; set one with "pin set"');
  const wait = ctx.pins.waitMs();
  if (wait > 0) throw new ConsoleError('retry-later', `too many wrong PINs; try again in ${seconds(wait)} s`, { retryInSeconds: seconds(wait) });
}

export const login: CommandDef = {
  name: 'login',
  usage: ['login              (asks for the PIN without echo)'],
  summary: 'give the console PIN (needed to see or change the configuration)',
  details: [
    'Asks for the console PIN. Each wrong PIN in a row doubles the wait before the next try',
    '(1 s, 2 s, 4 s, ... up to an hour), also across restarts. The login ends with "logout",',
    'after 15 minutes without input, or when the serial line closes.',
  ],
  login: false,
  params: { pin: 'string' },
  required: ['pin'],
  fromWords(words, ctx) {
    if (words.length > 1) throw new ConsoleError('usage', 'usage: login');
    if (words.length === 1) return { pin: words[0] };
    checkCanTry(ctx);
    return { steps: [{ label: 'PIN: ', secret: true }], finish: ([pin]) => ({ pin }) };
  },
  async run(ctx, p) {
    checkCanTry(ctx);
    const r = await ctx.pins.verify(p.pin as string);
    if (r.ok) {
      ctx.session.login();
      return { data: { loggedIn: true }, text: ['logged in'] };
    }
    const s = seconds(r.retryInMs);
    if (r.reason === 'wait') throw new ConsoleError('retry-later', `too many wrong PINs; try again in ${s} s`, { retryInSeconds: s });
    throw new ConsoleError('wrong-pin', `wrong PIN; the next try is possible in ${s} s`, { retryInSeconds: s });
  },
};

export const logout: CommandDef = {
  name: 'logout',
  aliases: ['exit', 'quit'],
  usage: ['logout'],
  summary: 'end the login (uncommitted changes stay in the candidate)',
  details: ['Ends the login. The console itself stays: there is no shell behind it.'],
  login: false,
  params: {},
  fromWords(words) {
    if (words.length) throw new ConsoleError('usage', 'usage: logout');
    return {};
  },
  async run(ctx) {
    ctx.session.logout();
    const n = ctx.candidate.dirty ? ctx.candidate.diff().length : 0;
    return { data: { loggedIn: false, uncommitted: n }, text: [`logged out${n ? ` (${n} uncommitted change${n === 1 ? '' : 's'} stay in the candidate)` : ''}`] };
  },
};

export const pin: CommandDef = {
  name: 'pin',
  usage: ['pin set            (asks for the new PIN twice, without echo)'],
  summary: 'set or change the console PIN',
  details: [
    'Sets the console PIN: at first provisioning anyone at the console may set it; after that only a',
    'logged-in session may change it. At least 6 characters; not one repeated character or a run like 123456.',
    'The box keeps only a salted scrypt hash (mode 0600, next to the config).',
  ],
  login: false,
  params: { action: 'string', pin: 'string' },
  required: ['action', 'pin'],
  fromWords(words, ctx) {
    if (words[0] !== 'set' || words.length > 2) throw new ConsoleError('usage', 'usage: pin set');
    if (ctx.pins.isSet && !ctx.session.isLoggedIn) throw new ConsoleError('login-required', 'log in first ("login") to change the console PIN');
    if (words.length === 2) return { action: 'set', pin: words[1] };
    return {
      steps: [{ label: 'new PIN: ', secret: true }, { label: 'again: ', secret: true }],
      finish: ([a, b]) => {
        if (a !== b) throw new ConsoleError('invalid', 'the two entries differ; the PIN was not changed', { field: 'pin' });
        return { action: 'set', pin: a };
      },
    };
  },
  async run(ctx, p) {
    if (p.action !== 'set') throw new ConsoleError('usage', '"action" must be "set"', { field: 'action' });
    if (ctx.pins.isSet && !ctx.session.isLoggedIn) throw new ConsoleError('login-required', 'log in first ("login") to change the console PIN');
    const problem = pinProblem(p.pin as string);
    if (problem) throw new ConsoleError('invalid', `${problem}; the PIN was not changed`, { field: 'pin' });
    await ctx.pins.set(p.pin as string);
    ctx.session.login();
    return { data: { pinSet: true, loggedIn: true }, text: ['console PIN set; you are logged in'] };
  },
};
