import { join } from 'node:path';
import type { CapstanPlugin } from '../../core/plugin.ts';
import { NodemailerDelivery } from './nodemailer-delivery.ts';

/** Provides `mail`: SMTP from `mail.smtp`, or an outbox of .eml files under the data dir. */
export function deliveryMailPlugin(): CapstanPlugin {
  let delivery: NodemailerDelivery | null = null;
  return {
    name: 'capstan:delivery-mail',
    setup(ctx) {
      const mail = ctx.config.mail;
      delivery = new NodemailerDelivery({
        from: mail.from,
        smtp: mail.smtp,
        outboxDir: mail.outboxDir ?? join(ctx.config.dataDir, 'outbox'),
      });
      ctx.services.provide('mail', delivery);
      ctx.logger.info({ mode: delivery.mode }, 'mail delivery ready');
    },
    async close() {
      await delivery?.close();
    },
  };
}
