/**
 * Crash tests need the host to die at an exact step (between fetch and commit, between commit and
 * delete), which no timing from outside can hit reliably. `CAPSTAN_FAULT_KILL_AT` — for tests only,
 * read once at start — names a step; reaching it SIGKILLs the process itself: a real, uncatchable
 * crash with nothing flushed or closed. Unset (always, in production), `faultPoint` does nothing.
 *
 * Steps: `recorder.after-fetch` (the file is fetched and verified, not committed),
 * `recorder.after-commit` (stored and committed, the media server's copy not deleted),
 * `recorder.after-rcs-fetch` (an RCS server keeps the file, the host has not recorded it).
 */
const killAt = process.env.CAPSTAN_FAULT_KILL_AT ?? null;

export type FaultPoint = 'recorder.after-fetch' | 'recorder.after-commit' | 'recorder.after-rcs-fetch';

export function faultPoint(name: FaultPoint): void {
  if (killAt === name) process.kill(process.pid, 'SIGKILL');
}
