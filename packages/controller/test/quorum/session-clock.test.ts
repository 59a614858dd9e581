// The session clock credits a controller's own stall to every broker session, and only that.
import { describe, expect, it } from 'vitest';
import { creditControllerStall } from '../../src/quorum/session-clock.js';

describe('broker session clock', () => {
  it('credits a late check\'s lateness to every session, never past now', () => {
    const last = new Map([[1, 1000], [2, 9_500]]);
    const credited = creditControllerStall(last, 5_000, 10_000);
    expect(credited.get(1)).toBe(6_000);
    expect(credited.get(2)).toBe(10_000); // capped at now
    expect(last.get(1)).toBe(1000); // the input is not changed
  });

  it('credits nothing for a check on time, so a dead broker expires', () => {
    const last = new Map([[1, 1000]]);
    expect(creditControllerStall(last, 0, 4_000).get(1)).toBe(1000);
    expect(creditControllerStall(last, -20, 4_000).get(1)).toBe(1000);
  });

  it('a broker that stopped heartbeating still expires when every check runs late', () => {
    // Checks every 500 ms that each run 300 ms late: the dead broker's age grows 500 ms per check.
    const sessionTimeoutMs = 2_000;
    let sessions = new Map([[1, 0]]);
    let now = 0;
    let checks = 0;
    while (now - sessions.get(1)! <= sessionTimeoutMs) {
      now += 800;
      sessions = creditControllerStall(sessions, 300, now);
      checks++;
      expect(checks).toBeLessThan(10);
    }
    expect(checks).toBe(5);
  });
});
