/**
 * The plugin contract. Built-in features (recorder storage, mail delivery, the call simulator,
 * later SIP and codecs) are ordinary plugins registered through this same contract.
 *
 * A plugin is an object with a unique `name` and a `setup(ctx)` that may:
 *  - subscribe to events on `ctx.events`,
 *  - add HTTP routes with `ctx.http.register(...)` (before the server listens),
 *  - offer a service to others with `ctx.services.provide(key, impl)` and use theirs with `get`.
 * `close()` is called in reverse order of setup at shutdown and must be idempotent.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from './logger.ts';
import type { CapstanConfig } from './config/schema.ts';
import type { EventBus } from './events/event-bus.ts';
import { CapstanError } from './errors.ts';
import type { ServiceRegistry } from './services.ts';

export interface PluginContext {
  config: CapstanConfig;
  events: EventBus;
  logger: Logger;
  http: FastifyInstance;
  services: ServiceRegistry;
}

export interface CapstanPlugin {
  /** Unique name, e.g. `capstan:storage-knex`. */
  readonly name: string;
  setup(ctx: PluginContext): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** Runs plugins' setup in order and their close in reverse; a failing setup is a coded error naming it. */
export class PluginHost {
  readonly #plugins: CapstanPlugin[] = [];
  readonly #started: CapstanPlugin[] = [];
  #closed = false;

  register(plugin: CapstanPlugin): void {
    if (this.#plugins.some((p) => p.name === plugin.name)) {
      throw new CapstanError('CAPSTAN_ERR_PLUGIN', `Plugin "${plugin.name}" is registered twice`, { details: { plugin: plugin.name } });
    }
    this.#plugins.push(plugin);
  }

  get names(): string[] {
    return this.#plugins.map((p) => p.name);
  }

  async setupAll(makeContext: (plugin: CapstanPlugin) => PluginContext): Promise<void> {
    for (const plugin of this.#plugins) {
      try {
        await plugin.setup(makeContext(plugin));
        this.#started.push(plugin);
      } catch (e) {
        throw new CapstanError('CAPSTAN_ERR_PLUGIN', `Plugin "${plugin.name}" failed to start: ${(e as Error).message}`, {
          details: { plugin: plugin.name },
          cause: e,
        });
      }
    }
  }

  async closeAll(onError: (plugin: string, e: unknown) => void): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const plugin of [...this.#started].reverse()) {
      try {
        await plugin.close?.();
      } catch (e) {
        onError(plugin.name, e);
      }
    }
  }
}
