import type { CapstanPlugin } from '../../core/plugin.ts';
import { callRoutes } from './call-routes.ts';

/**
 * The simulated call source: calls placed over HTTP (by `capstan call`, `capstan demo` or any
 * script) whose legs send real RTP from wherever the caller runs.
 */
export function callSourceSimulatorPlugin(): CapstanPlugin {
  return {
    name: 'capstan:call-source-simulator',
    setup(ctx) {
      callRoutes(ctx.http, () => ctx.services.get('telephony'), ctx.events);
    },
  };
}
