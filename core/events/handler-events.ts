/**
 * Events the handler runtime raises about the handlers themselves (not about calls). Merged into
 * `CapstanEvents`; handlers cannot subscribe to them (see core/handlers/handler-event-names.ts).
 */
import type { ErrorCode } from '../errors.ts';

export interface HandlerErrorInfo {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export interface HandlerEvents {
  /** A version of a handler loaded and now receives new events. */
  'handler.loaded': { name: string; version: number; hash: string; subscriptions: string[]; replacedVersion: number | null };
  /**
   * A version failed to compile or load (`quarantined: false`; `runningVersion` says which older
   * version, if any, keeps serving), or a running version was stopped and quarantined.
   */
  'handler.failed': { name: string; version: number; error: HandlerErrorInfo; quarantined: boolean; runningVersion: number | null };
  /** The handler's file was deleted: it gets no more events. */
  'handler.removed': { name: string; version: number | null };
}
