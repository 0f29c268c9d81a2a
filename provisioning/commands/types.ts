// The shape of a console command. One definition serves both modes: the human CLI turns words
// into params (or asks for a secret with echo off), the machine mode passes JSON params, and
// run() returns data (machine mode's result) and text (what a person reads).
import type { Clock } from '../clock.ts';
import type { Candidate } from '../candidate.ts';
import type { Committer, ConsoleDaemon } from '../committer.ts';
import type { DeviceInfo } from '../device-info.ts';
import type { PinStore } from '../pin.ts';
import type { ProgressTracker } from '../progress.ts';
import type { RequestId } from '../protocol.ts';
import type { Session } from '../session.ts';

export type Params = Record<string, unknown>;

export interface Outcome {
  data: unknown;
  text: string[];
  /** Runs once the response is written (progress that follows a commit starts here). */
  after?: () => void;
}

export interface PromptStep {
  label: string;
  /** Echo off while this answer is typed. */
  secret: boolean;
}

/** A human command that needs more input: the console asks each step, then calls finish. */
export interface Prompt {
  steps: PromptStep[];
  finish(answers: string[]): Params;
}

export type ParamType = 'string' | 'int' | 'bool' | 'any';

export interface CommandContext {
  session: Session;
  candidate: Candidate;
  committer: Committer;
  pins: PinStore;
  daemon: ConsoleDaemon;
  clock: Clock;
  firmwareVersion: string;
  deviceInfo(): Promise<DeviceInfo>;
  /** A progress tracker whose updates go to the terminal, tagged with the request id. */
  tracker(id: RequestId): ProgressTracker;
  /** Runs a tracker in the background (cancelling the one before); output is the console's. */
  follow(id: RequestId, t: ProgressTracker): void;
  factory: { configPath: string; pinPath: string };
}

export interface CommandDef {
  name: string;
  aliases?: string[];
  usage: string[];
  summary: string;
  details: string[];
  /** Needs the console PIN in this session. */
  login: boolean;
  /** Machine-mode params and their JSON types. */
  params: Record<string, ParamType>;
  required?: string[];
  /** Human words after the command name -> params, or a prompt. Synchronous: it runs as the line arrives. */
  fromWords(words: string[], ctx: CommandContext): Params | Prompt;
  /** Instead of fromWords: the rest of the line as typed (for JSON arguments, where quotes matter). */
  fromText?(rest: string, ctx: CommandContext): Params;
  run(ctx: CommandContext, p: Params, id: RequestId): Promise<Outcome>;
}

export function isPrompt(x: Params | Prompt): x is Prompt {
  return typeof (x as Prompt).finish === 'function' && Array.isArray((x as Prompt).steps);
}
