/**
 * The library behind the `mikrotik-tailscale` CLI. Each area has its own
 * module; this file names the entry points a program would call.
 */
export * from "./errors.js";
export { allArchitectures, architecture, parseArchList, platformString, type Architecture, type ArchName } from "./arch.js";
export { buildAll, readRecord, recordsIn, imageVersion, type BuildOptions, type BuildResult } from "./build/index.js";
export type { BuildRecord, Profile, SizeReport } from "./build/record.js";
export { checkHost, type ToolCheck } from "./build/toolchain.js";
export { writeImages, defaultSourceDateEpoch } from "./image/index.js";
export { inspectTar, inspectLayout, type InspectReport } from "./image/inspect.js";
export { loadRouterConfig, parseRouterConfig, type RouterConfig } from "./routeros/config.js";
export { deploy, upgrade, status } from "./routeros/deploy.js";
export { createProgress, silentProgress, type Progress } from "./util/progress.js";
