// Splits a human console line into words. Whitespace separates words; "double quotes" (with \"
// and \\ escapes) and 'single quotes' (literal) keep spaces, and quoted and bare parts next to
// each other join into one word, as in a shell. No expansion of any kind: the console never
// runs a shell, so nothing here is interpreted beyond quoting.

export type WordsResult = { ok: true; words: string[] } | { ok: false; message: string; column: number };

export const MAX_WORDS = 256;

export function splitWords(line: string, maxWords = MAX_WORDS): WordsResult {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) {
        if (words.length >= maxWords) return { ok: false, message: `too many words (at most ${maxWords})`, column: i + 1 };
        words.push(cur);
        cur = '';
        inWord = false;
      }
      i++;
      continue;
    }
    inWord = true;
    if (c === '"') {
      const start = i;
      i++;
      let closed = false;
      while (i < line.length) {
        const d = line[i]!;
        if (d === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) { cur += line[i + 1]; i += 2; continue; }
        if (d === '"') { closed = true; i++; break; }
        cur += d;
        i++;
      }
      if (!closed) return { ok: false, message: 'a double quote (") is not closed', column: start + 1 };
      continue;
    }
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { ok: false, message: "a single quote (') is not closed", column: i + 1 };
      cur += line.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    cur += c;
    i++;
  }
  if (inWord) {
    if (words.length >= maxWords) return { ok: false, message: `too many words (at most ${maxWords})`, column: line.length };
    words.push(cur);
  }
  return { ok: true, words };
}
