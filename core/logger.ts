import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** Default info. */
  level?: string;
  /** Write to this file descriptor. Default 1 (stdout); media-server children log to 2 (stdout carries their ready line). */
  fd?: number;
}

/** The root logger; components take `logger.child({ component: 'recorder' })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({ level: options.level ?? 'info', base: { pid: process.pid } }, pino.destination({ fd: options.fd ?? 1, sync: true }));
}

export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}
