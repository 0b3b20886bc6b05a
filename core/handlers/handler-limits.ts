/**
 * The limits every handler sandbox runs under. Each has its default here and in docs/handlers.md;
 * the host takes them from the `handlers` configuration section.
 */
export interface HandlerLimits {
  /** Heap limit of each handler's isolate, MB (isolated-vm's minimum is 8). Default 32. */
  memoryMb: number;
  /** CPU one event may use in a handler, summed over its synchronous part and its continuations, ms. Default 50. */
  cpuMsPerEvent: number;
  /** Wall-clock time from an event to its last listener settling, async actions included, ms. Default 5000. */
  deadlineMs: number;
  /** Time the handler's top-level code may run when it loads, ms. Default 1000. */
  loadTimeoutMs: number;
  /** Host API calls (actions, log lines, state reads and writes) per event, and while loading. Default 100. */
  maxHostCallsPerEvent: number;
  /** Size of one handler's persistent state, as JSON, bytes. Default 65536. */
  stateMaxBytes: number;
}

export const DEFAULT_HANDLER_LIMITS: Readonly<HandlerLimits> = Object.freeze({
  memoryMb: 32,
  cpuMsPerEvent: 50,
  deadlineMs: 5000,
  loadTimeoutMs: 1000,
  maxHostCallsPerEvent: 100,
  stateMaxBytes: 65536,
});

export function resolveLimits(limits: Partial<HandlerLimits> = {}): HandlerLimits {
  const merged = { ...DEFAULT_HANDLER_LIMITS, ...limits };
  // isolated-vm refuses less than 8 MB; clamp rather than fail the whole runtime on a typo.
  merged.memoryMb = Math.max(8, merged.memoryMb);
  return merged;
}
