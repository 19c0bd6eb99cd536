/*
 * Reads a generated RouterOS script back as text, independently of the plan
 * that made it: which `/menu/add` and `/menu/set` commands it runs and which
 * properties each sets, so tests can hold them against a command tree.
 */

export interface ScriptWrite {
  /** e.g. "container/add" */
  command: string;
  props: string[];
  /** The script line, for messages. */
  line: string;
}

/** The add/set commands of a script with the properties each sets ([...] find and get expressions left out). */
export function scriptWrites(text: string): ScriptWrite[] {
  const out: ScriptWrite[] = [];
  for (const raw of text.split("\n")) {
    if (raw.trim().startsWith("#")) continue;
    let line = raw;
    // Drop [...] expressions (finds, gets), innermost first.
    for (let prev = ""; prev !== line; ) {
      prev = line;
      line = line.replace(/\[[^[\]]*\]/g, "[]");
    }
    for (const m of line.matchAll(/(\/[a-z][a-z0-9/-]*)\/(add|set)\b([^;{}]*)/g)) {
      const props = [...m[3]!.matchAll(/(?:^|\s)([a-z][a-z0-9-]*)=/g)].map((x) => x[1]!);
      out.push({ command: `${m[1]!.slice(1)}/${m[2]}`, props, line: raw.trim() });
    }
  }
  return out;
}
