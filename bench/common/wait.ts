export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `interval` ms until it returns true; fails with `what` after `timeout` ms. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  { timeout = 10_000, interval = 20 }: { timeout?: number; interval?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}
