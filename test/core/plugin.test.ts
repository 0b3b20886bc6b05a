import { describe, expect, it } from 'vitest';
import { PluginHost, type CapstanPlugin, type PluginContext } from '../../core/plugin.ts';
import { CapstanError } from '../../core/errors.ts';
import { startTestHost } from '../helpers/host.ts';

const ctx = {} as PluginContext;

describe('the plugin contract', () => {
  it('sets plugins up in order and closes them in reverse, once', async () => {
    const log: string[] = [];
    const plugin = (name: string): CapstanPlugin => ({ name, setup: () => void log.push(`setup ${name}`), close: () => void log.push(`close ${name}`) });
    const host = new PluginHost();
    host.register(plugin('a'));
    host.register(plugin('b'));
    await host.setupAll(() => ctx);
    await host.closeAll(() => {});
    await host.closeAll(() => {});
    expect(log).toEqual(['setup a', 'setup b', 'close b', 'close a']);
  });

  it('refuses a second plugin with the same name', () => {
    const host = new PluginHost();
    host.register({ name: 'x', setup() {} });
    expect(() => host.register({ name: 'x', setup() {} })).toThrow(CapstanError);
  });

  it('names the plugin whose setup failed, and closes only those that started', async () => {
    const closed: string[] = [];
    const host = new PluginHost();
    host.register({ name: 'ok', setup() {}, close: () => void closed.push('ok') });
    host.register({ name: 'broken', setup: () => Promise.reject(new Error('no database')), close: () => void closed.push('broken') });
    await expect(host.setupAll(() => ctx)).rejects.toMatchObject({ code: 'CAPSTAN_ERR_PLUGIN', message: expect.stringContaining('"broken"') });
    await host.closeAll(() => {});
    expect(closed).toEqual(['ok']);
  });

  it('lets a user plugin add routes, see call events and use the built-ins’ services like any built-in', async () => {
    const seen: string[] = [];
    const custom: CapstanPlugin = {
      name: 'example:audit',
      setup(c) {
        c.events.on('media-server.up', ({ id }) => void seen.push(id));
        c.http.get('/api/v1/example/seen', async () => ({ mail: c.services.get('mail').mode, seen }));
      },
    };
    const withPlugin = await startTestHost({ mediaServers: { embedded: 0 } }, [custom]);
    try {
      withPlugin.registry.register({ id: 'ext-1', location: 'x', controlUrl: 'http://127.0.0.1:1', version: '0' });
      const r = await withPlugin.http.inject({ url: '/api/v1/example/seen' });
      expect(r.json()).toEqual({ mail: 'outbox', seen: ['ext-1'] });
    } finally {
      await withPlugin.close();
    }
  });
});
