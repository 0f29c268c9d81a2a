// What a fuzz target throws for a real finding (anything else escaping a parser is one too).
export class FuzzFinding extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuzzFinding';
  }
}

export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new FuzzFinding(message);
}
