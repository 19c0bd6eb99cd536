/**
 * Progress on stderr: one line when a step starts, one when it ends with its
 * duration. Plain lines (no cursor tricks) so logs and CI read the same.
 */
export interface Progress {
  step<T>(label: string, work: () => Promise<T>): Promise<T>;
  info(message: string): void;
  /** Detail lines (tool output) shown only with verbose on. */
  detail(message: string): void;
}

export function createProgress(opts: { verbose?: boolean; stream?: NodeJS.WritableStream; quiet?: boolean } = {}): Progress {
  const out = opts.stream ?? process.stderr;
  const write = (s: string) => {
    if (!opts.quiet) out.write(s + "\n");
  };
  return {
    async step(label, work) {
      const t0 = Date.now();
      write(`==> ${label}`);
      try {
        const r = await work();
        write(`    done: ${label} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
        return r;
      } catch (e) {
        write(`    FAILED: ${label} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
        throw e;
      }
    },
    info(message) {
      write(`    ${message}`);
    },
    detail(message) {
      if (opts.verbose) write(`      | ${message}`);
    },
  };
}

export const silentProgress: Progress = {
  step: (_l, w) => w(),
  info: () => {},
  detail: () => {},
};
