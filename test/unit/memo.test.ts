import { test } from "node:test";
import assert from "node:assert/strict";
import { memoize } from "../../src/util/memo.js";

test("memoize runs once and shares the result, but retries after a failure", async () => {
  let calls = 0;
  const ok = memoize(async () => ++calls);
  assert.deepEqual(await Promise.all([ok(), ok(), ok()]), [1, 1, 1]);
  assert.equal(calls, 1);
  let attempts = 0;
  const flaky = memoize(async () => {
    attempts++;
    if (attempts === 1) throw new Error("first try fails");
    return "second";
  });
  await assert.rejects(flaky(), /first try fails/);
  assert.equal(await flaky(), "second");
  assert.equal(await flaky(), "second");
  assert.equal(attempts, 2);
});
