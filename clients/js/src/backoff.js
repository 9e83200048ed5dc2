// Reconnect delays: exponential, capped, jittered. After a server restart every client comes
// back at once; "equal jitter" (half the delay fixed, half random) spreads them out while
// never retrying sooner than half the nominal delay.

/**
 * The delay before reconnect attempt `failures` (1 = the first after a drop).
 * @param {number} failures consecutive failed or dropped connections
 * @param {number} firstMs the delay after the first failure
 * @param {number} capMs the largest delay
 * @param {() => number} [random] a source in [0, 1)
 */
export function reconnectDelay(failures, firstMs, capMs, random = Math.random) {
  const nominal = Math.min(capMs, firstMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}
