// The one way tests wait: poll a probe until it yields a value, with a deadline, never a fixed sleep
// followed by an exact expectation. The last error the probe threw is named when the deadline passes.

/** How often `waitFor` asks its probe, ms. */
export const WAIT_FOR_POLL_MS = 50;

/**
 * Resolves with the first value other than `undefined` that `probe` returns; a probe that throws counts
 * as "not yet". Rejects after `timeoutMs` naming `what` and the probe's last error.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`);
    await new Promise((r) => setTimeout(r, WAIT_FOR_POLL_MS));
  }
}
