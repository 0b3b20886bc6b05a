import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../core/events/event-bus.ts';
import { createLogger } from '../../../core/logger.ts';
import { MediaServerRegistry } from '../../../core/telephony/media-server-registry.ts';

const logger = createLogger({ level: 'silent' });
const report = { cpu: 0.1, activeResources: 0, acceptsSessions: true, freeDiskBytes: 1e9, recovered: [] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the media server registry', () => {
  it('marks a server down when its load reports stop, and tells the event bus', async () => {
    const events = new EventBus(logger);
    const downs: string[] = [];
    events.on('media-server.down', ({ id }) => void downs.push(id));
    const registry = new MediaServerRegistry(events, logger, { downAfterMs: 400 });
    registry.register({ id: 'ms-a', location: 'x', controlUrl: 'http://127.0.0.1:1', version: '1' });
    await sleep(700);
    expect(registry.get('ms-a')?.state).toBe('down');
    expect(downs).toEqual(['ms-a']);
    registry.close();
  });

  it('does not blame the servers for the host’s own stall: a blocked event loop is no missed report', async () => {
    const events = new EventBus(logger);
    const downs: string[] = [];
    events.on('media-server.down', ({ id }) => void downs.push(id));
    const registry = new MediaServerRegistry(events, logger, { downAfterMs: 400 });
    registry.register({ id: 'ms-a', location: 'x', controlUrl: 'http://127.0.0.1:1', version: '1' });
    // The host busy for longer than downAfterMs (a long synchronous task): no report can be read.
    const until = Date.now() + 600;
    while (Date.now() < until) {
      // busy
    }
    await sleep(0);
    await sleep(100);
    // The report that was waiting arrives; the server never went down.
    registry.report('ms-a', report);
    expect(registry.get('ms-a')?.state).toBe('up');
    expect(downs).toEqual([]);
    registry.close();
  });
});
