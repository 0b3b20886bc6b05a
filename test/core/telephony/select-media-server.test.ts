import { describe, expect, it } from 'vitest';
import { selectMediaServer } from '../../../core/telephony/select-media-server.ts';
import type { MediaServerState } from '../../../core/telephony/media-server-registry.ts';
import { CapstanError } from '../../../core/errors.ts';

function server(id: string, over: Partial<MediaServerState> = {}): MediaServerState {
  return {
    id, location: 'default', controlUrl: `http://127.0.0.1/${id}`, version: '0', pid: null, embedded: true,
    state: 'up', downReason: null, cpu: 0.1, activeResources: 0, acceptsSessions: true, freeDiskBytes: 1e9,
    recovered: [], registeredAt: '', lastReportAt: '', ...over,
  };
}

describe('selectMediaServer', () => {
  it('picks the server with the most free CPU', () => {
    expect(selectMediaServer([server('a', { cpu: 0.5 }), server('b', { cpu: 0.2 })]).server.id).toBe('b');
  });

  it('breaks a CPU tie by the fewest resources in use', () => {
    expect(selectMediaServer([server('a', { activeResources: 4 }), server('b', { activeResources: 2 })]).server.id).toBe('b');
  });

  it('skips servers that are down or do not accept sessions', () => {
    const s = selectMediaServer([server('a', { state: 'down', cpu: 0 }), server('b', { acceptsSessions: false, cpu: 0 }), server('c', { cpu: 0.9 })]);
    expect(s.server.id).toBe('c');
    expect(s.reason).toContain('c');
  });

  it('refuses with CAPSTAN_ERR_NO_MEDIA_SERVER naming why each server was passed over', () => {
    try {
      selectMediaServer([server('a', { state: 'down' }), server('b', { acceptsSessions: false })]);
      expect.fail('should have thrown');
    } catch (e) {
      expect(e).toBeInstanceOf(CapstanError);
      expect((e as CapstanError).code).toBe('CAPSTAN_ERR_NO_MEDIA_SERVER');
      expect((e as CapstanError).message).toContain('a: down');
      expect((e as CapstanError).message).toContain('b: not accepting sessions');
    }
  });

  it('says so when no server is registered at all', () => {
    expect(() => selectMediaServer([])).toThrow(/No media server is registered/);
  });
});

describe('MediaServerRegistry with selection', () => {
  it('spreads calls set up between two load reports over the servers', async () => {
    const { MediaServerRegistry } = await import('../../../core/telephony/media-server-registry.ts');
    const { EventBus } = await import('../../../core/events/event-bus.ts');
    const { createLogger } = await import('../../../core/logger.ts');
    const logger = createLogger({ level: 'silent' });
    const registry = new MediaServerRegistry(new EventBus(logger), logger, { downAfterMs: 60_000 });
    for (const id of ['a', 'b']) registry.register({ id, location: 'x', controlUrl: `http://127.0.0.1/${id}`, version: '0' });
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { server } = selectMediaServer(registry.list());
      registry.noteAllocated(server.id, 2);
      picks.push(server.id);
    }
    expect(picks).toEqual(['a', 'b', 'a', 'b']);
    registry.close();
  });
});
