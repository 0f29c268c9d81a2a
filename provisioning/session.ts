// One console session (there is one serial line): its mode, and whether the PIN was given.
// The login lapses after a quiet period and whenever the line closes.
import type { Clock } from './clock.ts';

export type ConsoleMode = 'human' | 'json';

export const DEFAULT_IDLE_LOGOUT_MS = 15 * 60_000;

export class Session {
  mode: ConsoleMode = 'human';
  private loggedIn = false;
  private lastActivity = 0;

  constructor(private readonly clock: Clock, private readonly idleMs = DEFAULT_IDLE_LOGOUT_MS) {}

  get isLoggedIn(): boolean {
    if (this.loggedIn && this.clock.now() - this.lastActivity > this.idleMs) this.loggedIn = false;
    return this.loggedIn;
  }

  /** Called for every line: a command keeps the login alive (checked before it is refreshed). */
  touch(): void {
    void this.isLoggedIn;
    this.lastActivity = this.clock.now();
  }

  login(): void {
    this.loggedIn = true;
    this.lastActivity = this.clock.now();
  }

  logout(): void {
    this.loggedIn = false;
  }
}
