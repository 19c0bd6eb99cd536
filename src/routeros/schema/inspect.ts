import { RouterApiError } from "../errors.js";
import type { RestClient, RosRecord } from "../rest.js";
import type { RouterOsVersion } from "../version.js";
import { modelFromArgs, WRITTEN_COMMANDS, type RouterOsModel } from "./model.js";

/*
 * Asks a live router which arguments its commands take:
 *   POST /rest/console/inspect {"request":"child","path":"container,add"}
 * answers one row per child ({"name","node-type","type"}); rows of type
 * "child" with node-type "arg" are the arguments; a path that does not exist
 * answers []. Needs the read, api and rest-api policies.
 */

export async function inspectCommand(client: RestClient, command: string): Promise<ReadonlySet<string> | undefined> {
  const rows = await client.post<RosRecord[]>("console/inspect", { request: "child", path: command.split("/").join(",") });
  if (!Array.isArray(rows) || rows.length === 0) return undefined;
  const args = rows.filter((r) => r.type === "child" && r["node-type"] === "arg").map((r) => r.name!);
  return new Set(args);
}

/**
 * The router's own model, or undefined when it cannot be asked (a user
 * without the policies, a REST API without /console/inspect).
 */
export async function inspectRouter(client: RestClient, version: RouterOsVersion, commands: readonly string[] = WRITTEN_COMMANDS): Promise<RouterOsModel | undefined> {
  const args = new Map<string, ReadonlySet<string> | undefined>();
  try {
    // A few at a time: the client keeps at most four connections open.
    for (let i = 0; i < commands.length; i += 4) {
      const batch = commands.slice(i, i + 4);
      const got = await Promise.all(batch.map((c) => inspectCommand(client, c)));
      batch.forEach((c, j) => args.set(c, got[j]));
    }
  } catch (e) {
    if (e instanceof RouterApiError) return undefined;
    throw e;
  }
  return modelFromArgs(version, args);
}

/**
 * What the router reports for a menu: the completion of `<menu> get
 * value-name=` (rows {completion, style, ...} as tikoci/restraml's
 * deep-inspect reads them). Undefined when it cannot be asked or says nothing.
 */
export async function inspectReadable(client: RestClient, menu = "container"): Promise<ReadonlySet<string> | undefined> {
  let rows: RosRecord[];
  try {
    rows = await client.post<RosRecord[]>("console/inspect", { request: "completion", path: `${menu.split("/").join(",")},get,value-name` });
  } catch (e) {
    if (e instanceof RouterApiError) return undefined;
    throw e;
  }
  if (!Array.isArray(rows)) return undefined;
  const names = rows.filter((r) => r.completion && r.style !== "syntax-meta").map((r) => r.completion!);
  return names.length ? new Set(names) : undefined;
}
