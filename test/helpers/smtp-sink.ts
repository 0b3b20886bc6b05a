import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

/** A real SMTP server on loopback that keeps every message it accepts, parsed by mailparser. */
export class SmtpSink {
  readonly messages: ParsedMail[] = [];
  readonly #server: SMTPServer;
  port = 0;

  constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, callback) => {
        simpleParser(stream)
          .then((mail) => {
            this.messages.push(mail);
            callback();
          })
          .catch((e: Error) => callback(e));
      },
    });
  }

  /** Listens on `port` (0: any free one). */
  async listen(port = 0): Promise<number> {
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server.server, 'listening');
    this.port = (this.#server.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  async waitFor(count: number, timeoutMs = 20_000): Promise<ParsedMail[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} messages, got ${this.messages.length}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.messages;
  }
}

/** A loopback port nobody listens on (yet). */
export async function freePort(): Promise<number> {
  const sink = new SmtpSink();
  const port = await sink.listen();
  await sink.close();
  return port;
}
