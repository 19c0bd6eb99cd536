import type { Command } from "../command.js";
import { buildCommand } from "./build.js";
import { doctorCommand } from "./doctor.js";
import { inspectCommand } from "./inspect.js";
import { routerosCommand } from "./routeros.js";
import { publishCommand } from "./publish.js";
import { bumpCommand } from "./bump.js";
import { releaseCommand } from "./release.js";

/** Every top-level command, in the order `--help` lists them. */
export const commands: readonly Command[] = [buildCommand, doctorCommand, inspectCommand, routerosCommand, publishCommand, bumpCommand, releaseCommand];
