import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { ConfigError } from "../errors.js";

/*
 * A YAML file read with its line numbers kept, so that an error can name the
 * line of the key or value it is about. Ansible's `!vault` values (and
 * `!unsafe` strings) parse instead of failing: a vault value is a Vault,
 * which the inventory readers never use as a setting.
 */

/** An ansible-vault encrypted value: unreadable here, and never a setting. */
export class Vault {
  readonly vault = true;
}

const TAGS = [
  { tag: "!vault", resolve: () => new Vault() },
  { tag: "!unsafe", resolve: (s: string) => s },
];

export type YamlPath = readonly (string | number)[];

export class YamlSource {
  readonly doc: Document;
  readonly data: unknown;
  private readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, customTags: TAGS, uniqueKeys: true });
    const e = this.doc.errors[0];
    if (e) throw new ConfigError(`${file}:${e.linePos?.[0].line ?? 1}: not valid YAML: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`);
    this.data = this.doc.toJS({ maxAliasCount: 1000 });
  }

  private lineAt(offset: number): number {
    return this.lines.linePos(offset).line;
  }

  /** The line of the value at `path`, else of the nearest enclosing node. */
  lineOf(path: YamlPath): number {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && (node as { range?: [number, number, number] }).range) return this.lineAt((node as { range: [number, number, number] }).range[0]);
    }
    return 1;
  }

  /** The line of the key `key` in the mapping at `path`. */
  keyLine(path: YamlPath, key: string): number {
    const map = path.length ? this.doc.getIn(path, true) : this.doc.contents;
    if (isMap(map)) {
      for (const p of map.items) {
        if (isScalar(p.key) && String(p.key.value) === key && p.key.range) return this.lineAt(p.key.range[0]);
      }
    }
    return this.lineOf([...path, key]);
  }

  /** The text of a scalar as written (YAML read `7.20` as 7.2: the error quotes what was typed). */
  typedAt(path: YamlPath): string | undefined {
    const node = this.doc.getIn(path, true);
    return isScalar(node) && node.range ? this.text.slice(node.range[0], node.range[1]).trim() : undefined;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Vault);
}
