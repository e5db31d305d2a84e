// Waiting in tests: a plain delay, and polling a condition with a deadline.

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 2_000,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await delay(intervalMs);
  }
}

/** Polls until `get` returns a value (not undefined), and returns it. */
export async function waitForValue<T>(
  get: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 2_000,
  intervalMs = 50,
): Promise<T> {
  let value: T | undefined;
  await waitFor(
    async () => {
      value = await get();
      return value !== undefined;
    },
    what,
    timeoutMs,
    intervalMs,
  );
  return value as T;
}
