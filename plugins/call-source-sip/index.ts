import type { CapstanPlugin } from '../../core/plugin.ts';
import { SipB2bua } from './sip-b2bua.ts';

/**
 * The SIP call source: a B2BUA on UDP (`sip.port`, 5060 by default) that turns SIP calls into
 * Capstan calls, the media server in the audio path (docs/sip.md). `GET /api/v1/sip` shows its port,
 * its counters and the malformed messages it dropped, by reason.
 */
export function callSourceSipPlugin(): CapstanPlugin {
  let b2bua: SipB2bua | null = null;
  return {
    name: 'capstan:call-source-sip',
    async setup(ctx) {
      const sip = ctx.config.sip;
      if (!sip.enabled) return;
      const address = sip.address;
      b2bua = new SipB2bua(
        {
          port: sip.port,
          address,
          advertiseAddress: sip.advertiseAddress ?? (address === '0.0.0.0' ? '127.0.0.1' : address),
          routes: sip.routes,
          tcp: sip.tcp,
          location: sip.location,
          registrar: sip.registrar,
          referUnrouted: sip.referUnrouted,
          allowFrom: sip.allowFrom,
        },
        { telephony: () => ctx.services.get('telephony'), events: ctx.events, logger: ctx.logger },
      );
      await b2bua.start();
      const running = b2bua;
      ctx.http.get('/api/v1/sip', { schema: { tags: ['sip'], summary: 'The SIP call source: port, counters, dropped messages by reason' } }, async () => running.stats());
    },
    async close() {
      await b2bua?.close();
    },
  };
}
