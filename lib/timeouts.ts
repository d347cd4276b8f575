/** The longest delay Node's timers take; a longer one fires after 1 ms (with a warning). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Whether `value` is a timeout Node can wait: a positive, finite number of milliseconds up to {@link MAX_TIMEOUT_MS}. */
export function isTimeoutMs(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= MAX_TIMEOUT_MS;
}
