import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import { CapstanError } from '../../core/errors.ts';
import type { MailDelivery, MailMessage } from '../../core/delivery/mail-delivery.ts';

export interface NodemailerDeliveryOptions {
  from: string;
  smtp?: { host: string; port: number; secure: boolean; user?: string | undefined; pass?: string | undefined } | undefined;
  /** Used when `smtp` is unset. */
  outboxDir: string;
}

/** Mail through nodemailer: SMTP when configured, otherwise .eml files in an outbox folder. */
export class NodemailerDelivery implements MailDelivery {
  readonly mode: 'smtp' | 'outbox';
  readonly #transport: Transporter;
  readonly #options: NodemailerDeliveryOptions;
  #closed = false;

  constructor(options: NodemailerDeliveryOptions) {
    this.#options = options;
    if (options.smtp) {
      this.mode = 'smtp';
      this.#transport = nodemailer.createTransport({
        host: options.smtp.host,
        port: options.smtp.port,
        secure: options.smtp.secure,
        ...(options.smtp.user ? { auth: { user: options.smtp.user, pass: options.smtp.pass ?? '' } } : {}),
      });
    } else {
      this.mode = 'outbox';
      mkdirSync(options.outboxDir, { recursive: true });
      this.#transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    }
  }

  async send(message: MailMessage): Promise<{ messageId: string; location: string }> {
    if (this.#closed) throw new CapstanError('CAPSTAN_ERR_CLOSED', 'Mail delivery is closed');
    try {
      const info = (await this.#transport.sendMail({ from: this.#options.from, ...message })) as {
        messageId: string;
        message?: Buffer;
      };
      if (this.mode === 'smtp') return { messageId: info.messageId, location: `smtp:${this.#options.smtp!.host}` };
      // Outbox: write-then-rename so a reader never sees half a message.
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`;
      const path = join(this.#options.outboxDir, name);
      writeFileSync(`${path}.part`, info.message!);
      renameSync(`${path}.part`, path);
      return { messageId: info.messageId, location: path };
    } catch (e) {
      throw new CapstanError('CAPSTAN_ERR_DELIVERY_FAILED', `Mail to ${message.to} failed: ${(e as Error).message}`, {
        details: { to: message.to, mode: this.mode },
        cause: e,
      });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close();
  }
}
