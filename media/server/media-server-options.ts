/**
 * Options of one media server (`capstan media-server`, the host's child media servers, tests),
 * with their defaults in one place.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { CapstanError } from '../../core/errors.ts';
import type { PortRange } from '../rtp/rtp-port-pool.ts';
import { UDP_TRANSPORT_CHOICES, type UdpTransportChoice } from '../rtp/open-udp-transport.ts';
import type { CodecRegistry } from '../codecs/codec-registry.ts';

export interface MediaServerOptions {
  /** Location name reported at registration; selection rules pick media servers by it. Required. */
  location: string;
  /** Host (Telephony Services) base URL to register with and report load to. Default: none (not registered). */
  hostUrl?: string | undefined;
  /**
   * Server id. Default `<hostname>-<port>`, or `<hostname>-pid<pid>` when `port` is 0. Set it (or
   * `dataDir`) explicitly for recovery: a restart finds the previous run's files by it.
   */
  id?: string | undefined;
  /** RTP port range [first, last], inclusive (even ports used). Default [40000, 40999]. */
  rtpPorts?: readonly [number, number] | undefined;
  /** HTTP port of the control and file API. Default 9100; 0 picks a free port. */
  port?: number | undefined;
  /** Address the HTTP server listens on. Default '0.0.0.0'. */
  address?: string | undefined;
  /** Address the RTP sockets bind to. Default '0.0.0.0'. */
  rtpAddress?: string | undefined;
  /**
   * How RTP sockets are read and written (docs/native-udp.md): 'native' (the native socket set:
   * recvmmsg/sendmmsg, one JavaScript callback per batch; fails when the addon is not built),
   * 'dgram' (node:dgram, one event per datagram), or 'auto' (native when the addon loads, else
   * dgram with a warning). Default 'auto'.
   */
  udp?: UdpTransportChoice | undefined;
  /**
   * Address put in the control URL, file URIs and RTP endpoints given to the host: the one the
   * host and the call parties reach this machine at. Default '127.0.0.1' (single box).
   */
  advertiseAddress?: string | undefined;
  /** Data folder; recordings go to `<dataDir>/recordings`. Default `var/media/<id>` (relative to the working folder). */
  dataDir?: string | undefined;
  /** Shared secret for bearer auth and URI signing, at least 16 characters. Default: env CAPSTAN_SECRET; required. */
  secret?: string | undefined;
  /** How late a packet may arrive and still land in place in a recording. Default 200 ms. */
  jitterDelayMs?: number | undefined;
  /** Longest time between two syncs of a recording file. Default 1000 ms. */
  flushIntervalMs?: number | undefined;
  /**
   * How often a recording writes what has passed its jitter delay. Longer means fewer, larger
   * writes (CPU per call drops) and more audio held in memory. Default 250 ms.
   */
  writeIntervalMs?: number | undefined;
  /** Interval of load reports to the host (and register retries). Default 1000 ms. */
  loadIntervalMs?: number | undefined;
  /** Lifetime of signed file URIs from their signing. Default 86400 s (24 h). */
  uriTtlSeconds?: number | undefined;
  /** Below this much free disk the server stops accepting sessions. Default 100 MiB. */
  minFreeDiskBytes?: number | undefined;
  /** Finished recordings never fetched (and deleted) are removed after this long; 0 keeps them. Default 604800 s (7 days). */
  retentionSeconds?: number | undefined;
  /**
   * Codec plugin modules imported at start, each default-exporting a Codec (or an array of
   * them) that is added to `codecs` (docs/formats.md). Relative paths are from the working
   * folder. Default: none (the built-in codecs only).
   */
  codecModules?: readonly string[] | undefined;
  /** The codec registry recordings are written with. Default: the process's `codecRegistry`. */
  codecs?: CodecRegistry | undefined;
  /** Logger to use. Default: a pino logger on stderr at `logLevel`. */
  logger?: Logger | undefined;
  /** Level of the default logger. Default 'info'. */
  logLevel?: string | undefined;
}

export interface ResolvedMediaServerOptions {
  location: string;
  hostUrl: string | undefined;
  id: string;
  rtpPorts: PortRange;
  port: number;
  address: string;
  rtpAddress: string;
  udp: UdpTransportChoice;
  advertiseAddress: string;
  dataDir: string;
  recordingsDir: string;
  secret: string;
  jitterDelayMs: number;
  flushIntervalMs: number;
  writeIntervalMs: number;
  loadIntervalMs: number;
  uriTtlSeconds: number;
  minFreeDiskBytes: number;
  retentionSeconds: number;
  logLevel: string;
  codecModules: readonly string[];
}

export const DEFAULT_RTP_PORTS: readonly [number, number] = [40000, 40999];
export const DEFAULT_CONTROL_PORT = 9100;
export const MIN_SECRET_LENGTH = 16;

function invalid(message: string, key: string): CapstanError {
  return new CapstanError('CAPSTAN_ERR_CONFIG_INVALID', message, { details: { key } });
}

/** Parses "A-B" (the CLI's `--rtp-ports`). */
export function parsePortRange(text: string): [number, number] {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  if (!m) throw invalid(`RTP port range '${text}' is not A-B`, 'rtpPorts');
  const range: [number, number] = [Number(m[1]), Number(m[2])];
  checkPortRange(range);
  return range;
}

function checkPortRange([min, max]: readonly [number, number]): PortRange {
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
    throw invalid(`RTP port range ${min}-${max} is not A-B with 1 <= A <= B <= 65535`, 'rtpPorts');
  }
  return { min, max };
}

/**
 * Applies defaults and checks values.
 * @throws CapstanError CAPSTAN_ERR_CONFIG_INVALID naming the offending option in `details.key`.
 */
export function resolveMediaServerOptions(options: MediaServerOptions, env: NodeJS.ProcessEnv = process.env): ResolvedMediaServerOptions {
  if (!options.location) throw invalid('a media server needs a location', 'location');
  const secret = options.secret ?? env.CAPSTAN_SECRET;
  if (!secret || secret.length < MIN_SECRET_LENGTH) {
    throw invalid(`a media server needs a shared secret of at least ${MIN_SECRET_LENGTH} characters (option secret or env CAPSTAN_SECRET)`, 'secret');
  }
  const port = options.port ?? DEFAULT_CONTROL_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid(`port ${port} is not valid`, 'port');
  if (options.hostUrl !== undefined && !URL.canParse(options.hostUrl)) throw invalid(`host URL '${options.hostUrl}' is not a URL`, 'hostUrl');
  const id = options.id ?? (port === 0 ? `${hostname()}-pid${process.pid}` : `${hostname()}-${port}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) throw invalid(`id '${id}' must be letters, digits, '.', '_' or '-'`, 'id');
  const udp = options.udp ?? 'auto';
  if (!UDP_TRANSPORT_CHOICES.includes(udp)) throw invalid(`udp must be one of ${UDP_TRANSPORT_CHOICES.join(', ')}, got '${String(udp)}'`, 'udp');
  const dataDir = resolve(options.dataDir ?? join('var', 'media', id));
  const positive = (value: number | undefined, fallback: number, key: string): number => {
    const v = value ?? fallback;
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw invalid(`${key} must be a non-negative number`, key);
    return v;
  };
  return {
    location: options.location,
    hostUrl: options.hostUrl,
    id,
    rtpPorts: checkPortRange(options.rtpPorts ?? DEFAULT_RTP_PORTS),
    port,
    address: options.address ?? '0.0.0.0',
    rtpAddress: options.rtpAddress ?? '0.0.0.0',
    udp,
    advertiseAddress: options.advertiseAddress ?? '127.0.0.1',
    dataDir,
    recordingsDir: join(dataDir, 'recordings'),
    secret,
    jitterDelayMs: positive(options.jitterDelayMs, 200, 'jitterDelayMs'),
    flushIntervalMs: positive(options.flushIntervalMs, 1000, 'flushIntervalMs'),
    writeIntervalMs: positive(options.writeIntervalMs, 250, 'writeIntervalMs'),
    loadIntervalMs: Math.max(100, positive(options.loadIntervalMs, 1000, 'loadIntervalMs')),
    uriTtlSeconds: positive(options.uriTtlSeconds, 86400, 'uriTtlSeconds'),
    minFreeDiskBytes: positive(options.minFreeDiskBytes, 100 * 1024 * 1024, 'minFreeDiskBytes'),
    retentionSeconds: positive(options.retentionSeconds, 7 * 24 * 3600, 'retentionSeconds'),
    logLevel: options.logLevel ?? 'info',
    codecModules: options.codecModules ?? [],
  };
}
