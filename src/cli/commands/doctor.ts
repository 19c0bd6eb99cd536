import { join } from "node:path";
import { checkHost, isDebianLike, SETUP_COMMAND } from "../../build/toolchain.js";
import { FailureError } from "../../errors.js";
import { projectRoot } from "../../paths.js";
import { run } from "../../util/exec.js";
import { boolOpt, type Command } from "../command.js";

export const doctorCommand: Command = {
  name: "doctor",
  summary: "check the tools the build and tests need; --fix installs what is missing",
  usage: ["doctor [--fix]"],
  options: { fix: { type: "boolean" } },
  async run(args) {
    let checks = await checkHost();
    const missing = () => checks.filter((c) => !c.ok);
    if (boolOpt(args, "fix") && missing().length) {
      if (!isDebianLike()) throw new FailureError("doctor --fix installs Debian packages; this is not Debian or Ubuntu");
      if (process.getuid?.() !== 0) throw new FailureError("doctor --fix must run as root (it runs apt-get)");
      process.stderr.write(`running ${SETUP_COMMAND}\n`);
      await run("bash", [join(projectRoot, "scripts", "setup-host.sh")], { onLine: (l) => process.stderr.write(l + "\n") });
      checks = await checkHost();
    }
    const w = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
      process.stdout.write(`${c.ok ? "ok     " : "MISSING"}  ${c.name.padEnd(w)}  ${c.purpose.padEnd(5)}  ${c.detail}\n`);
    }
    const bad = missing();
    if (bad.length) {
      process.stdout.write(`\n${bad.length} missing. Install everything with:\n  ${SETUP_COMMAND}   (or: mikrotik-tailscale doctor --fix)\nOr one by one:\n`);
      for (const c of bad) process.stdout.write(`  ${c.fix}\n`);
      return 1;
    }
    process.stdout.write("\nall tools present\n");
    return 0;
  },
};
