/** The `mail` service: sends a recording as an attachment. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  attachments: { filename: string; path?: string; content?: Buffer; contentType: string }[];
}

export interface MailDelivery {
  /** 'smtp' when an SMTP server is configured, 'outbox' when messages go to .eml files. */
  readonly mode: 'smtp' | 'outbox';
  /** Resolves once the SMTP server accepted the message (or the .eml file is durable). */
  send(message: MailMessage): Promise<{ messageId: string; location: string }>;
  close(): Promise<void>;
}
