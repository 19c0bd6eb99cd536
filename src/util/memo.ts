/**
 * Runs `fn` once per process and shares its result: for facts about the host
 * (tool versions) that many build steps ask for. A failure is not kept, so a
 * later call tries again.
 */
export function memoize<T>(fn: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= fn().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };
}
