import type { CallEvents, RecordingEvents } from '../events/call-events.ts';

/** The bus events a handler may subscribe to with `capstan.on`: call and recording events only. */
export type HandlerEventName = keyof CallEvents | keyof RecordingEvents;

// A Record keyed by the union makes the compiler refuse a list that misses or invents an event.
const names: Record<HandlerEventName, true> = {
  'call.offered': true,
  'call.connected': true,
  'call.assigned': true,
  'call.held': true,
  'call.resumed': true,
  'call.transferred': true,
  'call.disconnected': true,
  'recording.started': true,
  'recording.paused': true,
  'recording.resumed': true,
  'recording.completed': true,
  'recording.failed': true,
  'recording.stored': true,
  'recording.delivered': true,
};

export const HANDLER_EVENT_NAMES: readonly HandlerEventName[] = Object.keys(names) as HandlerEventName[];

export function isHandlerEventName(name: string): name is HandlerEventName {
  return Object.hasOwn(names, name);
}
