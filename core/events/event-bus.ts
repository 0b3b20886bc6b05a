import type { Logger } from '../logger.ts';
import type { CapstanEvents } from './call-events.ts';
import { TypedEmitter } from './typed-emitter.ts';

/** The host's one bus for call, recording and media-server events. */
export class EventBus extends TypedEmitter<CapstanEvents> {
  constructor(logger: Logger) {
    super((error, event) => logger.error({ err: error, event }, 'event listener failed'));
  }
}
