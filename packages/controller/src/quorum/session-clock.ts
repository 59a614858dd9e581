// The active controller's clock of broker sessions: pure.

/**
 * The session clocks after a session check that ran `lateMs` later than its interval: every session is
 * credited the time this controller was not running (paused, starved, a long GC). Heartbeats that
 * arrived meanwhile are still queued behind the check (timers run before I/O in an event-loop turn),
 * so without the credit one stall of the controller would fence every live broker at once. Only the
 * lateness is credited, never the interval itself, so a dead broker still expires even when every
 * check runs late; no session is moved past `nowMs`.
 */
export function creditControllerStall(lastHeartbeatMs: ReadonlyMap<number, number>, lateMs: number, nowMs: number): Map<number, number> {
  const credited = new Map<number, number>();
  for (const [id, last] of lastHeartbeatMs) credited.set(id, lateMs > 0 ? Math.min(nowMs, last + lateMs) : last);
  return credited;
}
