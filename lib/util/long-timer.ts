/** The longest a Node timer waits in one go; a longer setTimeout fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer that may wait longer than a Node timer can (chained), cleared by the function it returns. */
export function setLongTimeout(callback: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout;
  const wait = (left: number) => {
    timer = setTimeout(
      () => (left > MAX_TIMER_MS ? wait(left - MAX_TIMER_MS) : callback()),
      Math.min(left, MAX_TIMER_MS),
    );
  };
  wait(ms);
  return () => clearTimeout(timer);
}
