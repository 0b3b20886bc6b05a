/**
 * The SIP call source: a back-to-back user agent over UDP. A caller's INVITE becomes a Capstan call
 * (Telephony Services picks the media server); the B2BUA places its own INVITE to the destination
 * the routes name, with the media server's address in the SDP both ways (always-in: the media
 * server relays and can record from the first packet). BYE, CANCEL, OPTIONS, ACK and in-dialog
 * re-INVITEs (hold and resume) are handled; retransmissions follow RFC 3261's timers (T1 500 ms,
 * doubling to T2 4 s, 64×T1 to give up). Malformed messages are answered 400 when they say where
 * to (their Via) or dropped, and counted by reason.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { BlockList, connect, createServer, isIP, type Server, type Socket as TcpSocket } from 'node:net';
import { once } from 'node:events';
import { toCapstanError } from '../../core/errors.ts';
import type { EventBus } from '../../core/events/event-bus.ts';
import type { Logger } from '../../core/logger.ts';
import type { TelephonyServices } from '../../core/telephony/telephony-services.ts';
import { header, parseCSeq, parseSipMessage, parseVia, serializeSipMessage, tagOf, uriOf, userOf, type SipMessage, type SipRequest, type SipResponse } from './sip-message.ts';
import { readSdp, writeSdp, type MediaOffer } from './sdp.ts';
import { CLOSED_REGISTRAR, SipRegistrar, type SipRegistrarOptions } from './sip-registrar.ts';

export interface SipRoute {
  /** Regular expression on the called number (the Request-URI's user part). */
  match: string;
  /**
   * Where the call goes: a SIP URI (`sip:1000@10.0.0.7:5060`), `registered` (the phone registered
   * under the called number) or `registered:USER` (the phone registered under USER).
   */
  to: string;
  workgroup?: string | undefined;
  agent?: string | undefined;
  /** This line's audio path, overriding `audioPaths`. Default: `audioPaths` by location. */
  audioPath?: 'always-in' | 'dynamic' | undefined;
}

export interface SipB2buaOptions {
  /** UDP port. Default 5060 (0: any free port). */
  port: number;
  /** Listen address. Default 0.0.0.0. */
  address: string;
  /** Address put in Via and Contact. Default: the listen address, 127.0.0.1 for 0.0.0.0. */
  advertiseAddress: string;
  /** Also take and place calls over TCP, on the same port number. Default true. */
  tcp?: boolean | undefined;
  routes: SipRoute[];
  /** Location of the calls (the requesting device's). Default: the host's. */
  location?: string | undefined;
  /**
   * Addresses and networks (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`) SIP may come from; others
   * are refused 403 (requests) or dropped (responses), and counted. Default [] (anyone).
   */
  allowFrom?: string[] | undefined;
  /** Let REFER call a target no route matches, as the URI given. Default false (403). */
  referUnrouted?: boolean | undefined;
  /** Who may REGISTER. Default: nobody (`{ users: {}, open: false }`). */
  registrar?: SipRegistrarOptions | undefined;
}

const T1 = 500;
const T2 = 4000;
const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, REGISTER';

interface Peer {
  address: string;
  port: number;
  /** Default UDP. Over TCP, messages go on the connection the peer opened, or one we open. */
  transport?: 'udp' | 'tcp';
}

/** One side of a bridged call: its dialog as this B2BUA sees it. */
interface Side {
  callId: string;
  localTag: string;
  remoteTag: string | null;
  /** Our From/To as sent on this side (local party first). */
  localUri: string;
  remoteUri: string;
  /** Where requests to this side go. */
  target: string;
  peer: Peer;
  cseq: number;
  media: MediaOffer | null;
  /** Where we last told this side to send its RTP (our SDP to it), or null before any. */
  offered: Peer | null;
  /** Our re-INVITE to this side still waiting for its final answer: how to stop its retransmission. */
  reinvite: (() => void) | null;
  /** Who this side's party says it is (P-Asserted-Identity, else its From or our target), as a URI. */
  identity: string | null;
}

interface Bridge {
  capstanCallId: string | null;
  a: Side;
  b: Side;
  /** The caller's INVITE, answered once; its last response is sent again on a retransmission. */
  invite: SipRequest;
  lastResponseToA: Buffer | null;
  /** Our INVITE to the callee, retransmitted until a response. */
  bInvite: SipRequest | null;
  stopRetransmit: (() => void)[];
  state: 'calling' | 'ringing' | 'answered' | 'ended';
  /**
   * Where each party must send RTP, as Telephony Services says: the media server's legs while one
   * is in the path, the other party's address while a dynamic call's legs talk directly.
   */
  targets: Partial<Record<'caller' | 'callee', Peer>>;
  sdpVersion: number;
  /** A blind transfer (REFER) in progress: the new party being called in place of `replacing`. */
  transfer: Transfer | null;
  /** Call-IDs of dialogs a transfer replaced: their late BYE is answered and changes nothing. */
  retired: Set<string>;
}

interface Transfer {
  /** The side whose party asked to be replaced (the transferor). */
  replacing: 'a' | 'b';
  /** The transferor's dialog, told how the transfer goes by NOTIFY (RFC 3515). */
  transferor: Side;
  /** Our dialog with the transfer target. */
  side: Side;
  invite: SipRequest;
  stop: () => void;
  targetUri: string;
}

export class SipB2bua {
  readonly #options: SipB2buaOptions;
  readonly #telephony: () => TelephonyServices;
  readonly #events: EventBus;
  readonly #logger: Logger;
  readonly #socket: Socket;
  #tcpServer: Server | null = null;
  /** TCP connections by `address:port` of the far end, whoever opened them. */
  readonly #connections = new Map<string, TcpSocket>();
  /** By the caller's Call-ID and by ours towards the callee. */
  readonly #bridges = new Map<string, Bridge>();
  readonly #byCapstanCall = new Map<string, Bridge>();
  readonly #dropped = new Map<string, number>();
  readonly #counts = { received: 0, sent: 0, calls: 0, reinvites: 0 };
  readonly #registrar: SipRegistrar;
  /** Null: every source is allowed. */
  readonly #allowed: BlockList | null;
  /** The routes with their expressions compiled once. */
  readonly #routes: { route: SipRoute; match: RegExp }[];
  #port = 0;
  #closed = false;
  readonly #off: () => void;

  constructor(options: SipB2buaOptions, deps: { telephony: () => TelephonyServices; events: EventBus; logger: Logger }) {
    this.#options = options;
    this.#telephony = deps.telephony;
    this.#events = deps.events;
    this.#logger = deps.logger;
    this.#allowed = allowList(options.allowFrom ?? []);
    this.#registrar = new SipRegistrar(options.registrar ?? CLOSED_REGISTRAR);
    this.#routes = options.routes.map((route) => ({ route, match: new RegExp(route.match) }));
    // A deep receive queue: INVITE bursts (a trunk after an outage, a load test) must queue, not drop
    // (the kernel caps it at net.core.rmem_max).
    this.#socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    this.#socket.on('message', (msg, from) => this.#onDatagram(msg, from));
    this.#socket.on('error', (e) => this.#logger.error({ err: e }, 'SIP socket error'));
    // Every move of the call's audio path (a media server inserted for a recording, taken out after
    // it, replaced on failover) is a re-INVITE of each side whose target changed.
    this.#off = deps.events.on('call.media-changed', ({ call, legs }) => {
      const bridge = this.#byCapstanCall.get(call.callId);
      if (!bridge || bridge.state === 'ended') return;
      bridge.targets = targetsOf(legs);
      if (bridge.state === 'answered') this.#repoint(bridge);
    });
  }

  get port(): number {
    return this.#port;
  }

  stats(): { port: number; tcp: boolean; received: number; sent: number; calls: number; reinvites: number; activeCalls: number; dropped: Record<string, number>; registrations: { user: string; contact: string; expiresInS: number }[] } {
    return { port: this.#port, tcp: this.#tcpServer !== null, ...this.#counts, activeCalls: this.#byCapstanCall.size, dropped: Object.fromEntries(this.#dropped), registrations: this.#registrar.list() };
  }

  async start(): Promise<void> {
    if (this.#options.tcp === false) {
      this.#socket.bind(this.#options.port, this.#options.address);
      await once(this.#socket, 'listening');
      this.#port = this.#socket.address().port;
    } else {
      // UDP and TCP share the port number. With port 0 the kernel picks it for TCP, and UDP may
      // have that number taken already (seen in CI: another test's socket): pick again.
      for (let attempt = 1; ; attempt++) {
        const server = createServer((conn) => this.#adopt(conn));
        server.listen(this.#options.port, this.#options.address);
        await once(server, 'listening');
        const port = (server.address() as { port: number }).port;
        try {
          this.#socket.bind(port, this.#options.address);
          await once(this.#socket, 'listening');
        } catch (e) {
          await new Promise((r) => server.close(r));
          if (this.#options.port !== 0 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw e;
          continue;
        }
        this.#tcpServer = server;
        this.#port = port;
        break;
      }
    }
    this.#logger.info({ port: this.#port, address: this.#options.address, tcp: this.#tcpServer !== null }, 'SIP B2BUA listening');
  }

  #count(reason: string): void {
    this.#dropped.set(reason, (this.#dropped.get(reason) ?? 0) + 1);
  }

  #send(msg: SipMessage, to: Peer): Buffer {
    const bytes = serializeSipMessage(msg);
    this.#sendRaw(bytes, to);
    this.#counts.sent++;
    return bytes;
  }

  #sendRaw(bytes: Buffer, to: Peer): void {
    if (to.transport !== 'tcp') {
      this.#socket.send(bytes, to.port, to.address);
      return;
    }
    const key = `${to.address}:${to.port}`;
    let conn = this.#connections.get(key);
    if (!conn || conn.destroyed) {
      // Writes before the connection is up are queued by the socket.
      conn = connect(to.port, to.address);
      this.#adopt(conn, key);
    }
    conn.write(bytes);
  }

  /**
   * A TCP connection (accepted or ours): SIP messages framed by Content-Length (RFC 3261 §18.3),
   * each handled like a datagram. A connection that sends 64 KiB without a whole message is closed.
   */
  #adopt(conn: TcpSocket, key = `${conn.remoteAddress?.replace(/^::ffff:/, '')}:${conn.remotePort}`): void {
    this.#connections.set(key, conn);
    let buffer = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        while (buffer.length >= 2 && buffer[0] === 0x0d && buffer[1] === 0x0a) buffer = buffer.subarray(2); // keep-alives
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) break;
        const length = Number(/^(?:content-length|l)[ \t]*:[ \t]*(\d+)/im.exec(buffer.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (buffer.length < end + 4 + length) break;
        const message = buffer.subarray(0, end + 4 + length);
        buffer = buffer.subarray(end + 4 + length);
        const [address, port] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))];
        this.#onDatagram(message, { address, port, family: 'IPv4', size: message.length }, 'tcp');
      }
      if (buffer.length > 65_535) {
        this.#count('too-large');
        conn.destroy();
      }
    });
    conn.on('error', (e) => this.#logger.debug({ err: e, peer: key }, 'SIP TCP connection error'));
    conn.on('close', () => {
      if (this.#connections.get(key) === conn) this.#connections.delete(key);
    });
  }

  /** Sends `bytes` again at T1, 2T1... capped at T2, until stopped or 64×T1 passed. */
  #retransmit(bytes: Buffer, to: Peer, onTimeout?: () => void): () => void {
    let interval = T1;
    let elapsed = 0;
    let timer: NodeJS.Timeout;
    const tick = () => {
      elapsed += interval;
      if (elapsed >= 64 * T1) {
        onTimeout?.();
        return;
      }
      // TCP is reliable: only the give-up timer runs (RFC 3261 §17.1.1.2).
      if (to.transport !== 'tcp') this.#socket.send(bytes, to.port, to.address);
      interval = Math.min(interval * 2, T2);
      timer = setTimeout(tick, interval);
    };
    timer = setTimeout(tick, interval);
    return () => clearTimeout(timer);
  }

  #onDatagram(raw: Buffer, from: RemoteInfo, transport: 'udp' | 'tcp' = 'udp'): void {
    this.#counts.received++;
    if (raw.length <= 4 && raw.toString().trim() === '') return; // keep-alive CRLF
    let msg: SipMessage;
    try {
      msg = parseSipMessage(raw);
    } catch (e) {
      const error = toCapstanError(e);
      const reason = (error.details as { reason?: string } | undefined)?.reason ?? 'unreadable';
      this.#count(reason);
      this.#answerMalformed(raw, { address: from.address, port: from.port, transport }, error.message);
      return;
    }
    const source = from.address.replace(/^::ffff:/, '');
    if (this.#allowed && !this.#allowed.check(source, isIP(source) === 6 ? 'ipv6' : 'ipv4')) {
      this.#count('not-allowed');
      if (msg.kind === 'request' && msg.method !== 'ACK') this.#send(this.#response(msg, 403, 'Forbidden (source not allowed)'), { address: from.address, port: from.port, transport });
      return;
    }
    try {
      if (msg.kind === 'request') this.#onRequest(msg, { address: from.address, port: from.port, transport });
      else this.#onResponse(msg);
    } catch (e) {
      this.#count('handler-error');
      this.#logger.error({ err: e }, 'SIP message handling failed');
    }
  }

  /** A 400 when the broken message still says who sent it and how to answer; silence otherwise. */
  #answerMalformed(raw: Buffer, from: Peer, why: string): void {
    const text = raw.toString('utf8');
    const start = text.split(/\r?\n/, 1)[0] ?? '';
    if (!/^[A-Z]+ \S+ SIP\/2\.0$/.test(start) || start.startsWith('ACK ')) return;
    const pick = (name: string) => new RegExp(`^(?:${name}):\\s*(.+)$`, 'im').exec(text)?.[1]?.trim();
    const via = pick('Via|v');
    const fromH = pick('From|f');
    const to = pick('To|t');
    const callId = pick('Call-ID|i');
    const cseq = pick('CSeq');
    if (!via || !fromH || !to || !callId || !cseq) return;
    this.#send({ kind: 'response', status: 400, reason: `Bad Request (${why.slice(0, 80)})`, headers: [['Via', via], ['From', fromH], ['To', to], ['Call-ID', callId], ['CSeq', cseq]], body: '' }, from);
  }

  #response(req: SipRequest, status: number, reason: string, extra: [string, string][] = [], body = '', toTag?: string): SipResponse {
    const to = header(req, 'To')!;
    return {
      kind: 'response',
      status,
      reason,
      headers: [
        ...req.headers.filter(([n]) => n === 'Via'),
        ['From', header(req, 'From')!],
        ['To', toTag && tagOf(to) === null ? `${to};tag=${toTag}` : to],
        ['Call-ID', header(req, 'Call-ID')!],
        ['CSeq', header(req, 'CSeq')!],
        ...extra,
      ],
      body,
    };
  }

  /**
   * Where to answer a request: where it came from, on the same transport (over TCP, the same
   * connection) — RFC 3581's rport behaviour, which also gets answers through NAT.
   */
  #replyTo(_req: SipRequest, source: Peer): Peer {
    return source;
  }

  #onRequest(req: SipRequest, source: Peer): void {
    const callId = header(req, 'Call-ID')!;
    const reply = this.#replyTo(req, source);
    const bridge = this.#bridges.get(callId);
    switch (req.method) {
      case 'INVITE':
        if (tagOf(header(req, 'To')!) === null) {
          if (bridge && bridge.a.callId === callId) {
            // The same INVITE again: the answer again. A new INVITE in an existing call's name: merged (§8.2.2.2).
            if (parseVia(header(bridge.invite, 'Via')!)!.branch === parseVia(header(req, 'Via')!)!.branch) {
              if (bridge.lastResponseToA) this.#sendRaw(bridge.lastResponseToA, reply);
            } else this.#send(this.#response(req, 482, 'Loop Detected'), reply);
            return;
          }
          void this.#newCall(req, reply);
          return;
        }
        if (!bridge) {
          this.#send(this.#response(req, 481, 'Call/Transaction Does Not Exist'), reply);
          return;
        }
        this.#inDialogInvite(bridge, req, reply);
        return;
      case 'ACK':
        if (bridge && bridge.a.callId === callId) {
          bridge.stopRetransmit.splice(0).forEach((stop) => stop());
        }
        return;
      case 'BYE':
        if (!bridge) {
          this.#send(this.#response(req, 481, 'Call/Transaction Does Not Exist'), reply);
          return;
        }
        this.#send(this.#response(req, 200, 'OK'), reply);
        // The transferor leaving after its transfer: the call goes on.
        if (bridge.retired.has(callId)) return;
        void this.#end(bridge, bridge.a.callId === callId ? 'b' : 'a', 'hangup');
        return;
      case 'REFER':
        if (!bridge || bridge.retired.has(callId)) {
          this.#send(this.#response(req, 481, 'Call/Transaction Does Not Exist'), reply);
          return;
        }
        this.#refer(bridge, req, reply);
        return;
      case 'CANCEL':
        if (!bridge || bridge.state === 'answered' || bridge.state === 'ended') {
          this.#send(this.#response(req, 481, 'Call/Transaction Does Not Exist'), reply);
          return;
        }
        this.#send(this.#response(req, 200, 'OK'), reply);
        this.#answerA(bridge, 487, 'Request Terminated');
        void this.#end(bridge, 'b', 'cancelled');
        return;
      case 'REGISTER': {
        const answer = this.#registrar.register(req);
        if (answer.status !== 200 && answer.status !== 401) this.#logger.info({ user: userOf(header(req, 'To') ?? ''), status: answer.status }, 'REGISTER refused');
        this.#send(this.#response(req, answer.status, answer.reason, answer.headers, '', randomTag()), reply);
        return;
      }
      case 'OPTIONS':
        this.#send(this.#response(req, 200, 'OK', [['Allow', ALLOW], ['Accept', 'application/sdp']], '', randomTag()), reply);
        return;
      default:
        this.#send(this.#response(req, 501, 'Not Implemented', [['Allow', ALLOW]]), reply);
    }
  }

  #contact(peer: Peer): string {
    return `<sip:capstan@${this.#options.advertiseAddress}:${this.#port}${peer.transport === 'tcp' ? ';transport=tcp' : ''}>`;
  }

  /** The first route whose `match` finds the called number, or else the called URI (`sip:support@pbx.example.com`). */
  #route(user: string, uri: string): SipRoute | null {
    const bare = uriOf(uri);
    return (this.#routes.find((r) => r.match.test(user)) ?? this.#routes.find((r) => r.match.test(bare)))?.route ?? null;
  }

  /** A route's destination URI: as written, or the registered contact it names (null: none registered). */
  #destination(route: SipRoute, called: string): string | null {
    const m = /^registered(?::(.+))?$/.exec(route.to);
    if (!m) return route.to;
    return this.#registrar.lookup(m[1] ?? called)?.contact ?? null;
  }

  #answerA(bridge: Bridge, status: number, reason: string, body = '', extra: [string, string][] = []): Buffer {
    const res = this.#response(bridge.invite, status, reason, [['Contact', this.#contact(bridge.a.peer)], ...extra, ...(body ? ([['Content-Type', 'application/sdp']] as [string, string][]) : [])], body, bridge.a.localTag);
    const bytes = this.#send(res, bridge.a.peer);
    bridge.lastResponseToA = bytes;
    return bytes;
  }

  async #newCall(req: SipRequest, reply: Peer): Promise<void> {
    const from = header(req, 'From')!;
    const contact = header(req, 'Contact');
    const bridge: Bridge = {
      capstanCallId: null,
      invite: req,
      lastResponseToA: null,
      bInvite: null,
      stopRetransmit: [],
      state: 'calling',
      targets: {},
      sdpVersion: 1,
      transfer: null,
      retired: new Set(),
      a: { callId: header(req, 'Call-ID')!, localTag: randomTag(), remoteTag: tagOf(from), localUri: header(req, 'To')!, remoteUri: from, target: contact ? uriOf(contact) : uriOf(from), peer: reply, cseq: 0, media: null, offered: null, reinvite: null, identity: uriOf(assertedIdentity(req) ?? from) },
      b: { callId: `${randomBytes(12).toString('hex')}@capstan`, localTag: randomTag(), remoteTag: null, localUri: '', remoteUri: '', target: '', peer: reply, cseq: 0, media: null, offered: null, reinvite: null, identity: null },
    };
    // Found by either side's Call-ID.
    this.#bridges.set(bridge.a.callId, bridge);
    this.#bridges.set(bridge.b.callId, bridge);
    this.#send(this.#response(req, 100, 'Trying'), reply);
    bridge.lastResponseToA = null;
    const called = userOf(req.uri) || userOf(header(req, 'To')!);
    const route = this.#route(called, req.uri);
    if (!route) {
      this.#answerA(bridge, 404, 'Not Found');
      this.#forget(bridge);
      return;
    }
    // Resolved before the call exists: no phone registered, no call (and nothing recorded).
    const target = this.#destination(route, called);
    if (!target) {
      this.#answerA(bridge, 480, 'Temporarily Unavailable');
      this.#forget(bridge);
      return;
    }
    let offer: MediaOffer;
    try {
      offer = readSdp(req.body);
    } catch (e) {
      this.#count('unusable-sdp');
      this.#answerA(bridge, 488, 'Not Acceptable Here', '', [['Warning', `399 capstan "${toCapstanError(e).message.slice(0, 100)}"`]]);
      this.#forget(bridge);
      return;
    }
    bridge.a.media = offer;
    const codec = { ...offer.codec, ...(offer.telephoneEventPayloadType !== null && offer.telephoneEventPayloadType >= 96 ? { telephoneEventPayloadType: offer.telephoneEventPayloadType } : {}) };
    let connected;
    try {
      connected = await this.#telephony().createCall({
        source: 'sip',
        direction: 'inbound',
        from: userOf(from) || from,
        to: called,
        workgroup: route.workgroup ?? null,
        agent: route.agent ?? null,
        ...(this.#options.location ? { location: this.#options.location } : {}),
        ...(route.audioPath ? { audioPath: route.audioPath } : {}),
        attributes: { sipCallId: bridge.a.callId },
        // The callee's address is known only from its answer (updateParty then).
        legs: [
          { role: 'caller', codec, rtp: { address: offer.address, port: offer.port } },
          { role: 'callee', codec },
        ],
      });
    } catch (e) {
      const error = toCapstanError(e);
      this.#logger.error({ err: error, sipCallId: bridge.a.callId }, 'SIP call refused: no media server');
      this.#answerA(bridge, 503, 'Service Unavailable');
      this.#forget(bridge);
      return;
    }
    this.#counts.calls++;
    bridge.capstanCallId = connected.call.callId;
    this.#byCapstanCall.set(connected.call.callId, bridge);
    bridge.targets = targetsOf(connected.legs);
    // The INVITE to the callee, offering where it must send: the media server's callee leg, or
    // (dynamic, not recording) the caller itself.
    bridge.b.peer = peerOf(target);
    bridge.b.target = target;
    bridge.b.localUri = `${from.replace(/;\s*tag=[^;]+/i, '')};tag=${bridge.b.localTag}`;
    bridge.b.remoteUri = `<${target}>`;
    const toCallee = bridge.targets.callee ?? { address: offer.address, port: offer.port };
    bridge.b.offered = toCallee;
    const sdp = writeSdp({ address: toCallee.address, port: toCallee.port, codec: offer.codec, telephoneEventPayloadType: offer.telephoneEventPayloadType, version: bridge.sdpVersion });
    const invite = this.#request(bridge, 'b', 'INVITE', sdp);
    bridge.bInvite = invite;
    const bytes = this.#send(invite, bridge.b.peer);
    const stop = this.#retransmit(bytes, bridge.b.peer, () => {
      if (bridge.state !== 'calling') return;
      this.#answerA(bridge, 408, 'Request Timeout');
      void this.#end(bridge, null, 'no answer');
    });
    bridge.stopRetransmit.push(stop);
  }

  /** A request inside one side's dialog, from us. */
  #request(bridge: Bridge, side: 'a' | 'b', method: string, body = '', cseq?: number): SipRequest {
    return this.#requestOn(bridge[side], method, body, cseq);
  }

  /** A request inside a dialog, from us: our tag in From, theirs (once known) in To. */
  #requestOn(s: Side, method: string, body = '', cseq?: number, extra: [string, string][] = []): SipRequest {
    if (cseq === undefined) s.cseq += 1;
    const from = `${stripTag(s.localUri)};tag=${s.localTag}`;
    const to = `${stripTag(s.remoteUri)}${s.remoteTag ? `;tag=${s.remoteTag}` : ''}`;
    return {
      kind: 'request',
      method,
      uri: s.target,
      headers: [
        ['Via', `SIP/2.0/${s.peer.transport === 'tcp' ? 'TCP' : 'UDP'} ${this.#options.advertiseAddress}:${this.#port};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`],
        ['Max-Forwards', '70'],
        ['From', from],
        ['To', to],
        ['Call-ID', s.callId],
        ['CSeq', `${cseq ?? s.cseq} ${method}`],
        ['Contact', this.#contact(s.peer)],
        ['User-Agent', 'Capstan'],
        ...extra,
        ...(body && !extra.some(([n]) => n === 'Content-Type') ? ([['Content-Type', 'application/sdp']] as [string, string][]) : []),
      ],
      body,
    };
  }

  #onResponse(res: SipResponse): void {
    const callId = header(res, 'Call-ID')!;
    const bridge = this.#bridges.get(callId);
    if (!bridge) {
      this.#count('stray-response');
      return;
    }
    const cseq = parseCSeq(header(res, 'CSeq')!)!;
    if (bridge.transfer && bridge.transfer.side.callId === callId) {
      if (cseq.method === 'INVITE') void this.#onTransferResponse(bridge, bridge.transfer, res, cseq.seq);
      return;
    }
    if (bridge.retired.has(callId)) return; // NOTIFY and BYE answers from a transferor
    const side: 'a' | 'b' = bridge.b.callId === callId ? 'b' : 'a';
    if (cseq.method !== 'INVITE') {
      // BYE and re-INVITE answers: stop their retransmission.
      if (res.status >= 200) bridge.stopRetransmit.splice(0).forEach((s) => s());
      if (cseq.method === 'INVITE' || res.status < 200) return;
      return;
    }
    if (side === 'a') {
      // The caller answering our re-INVITE.
      if (res.status >= 200) {
        if (res.status < 300) this.#send(this.#ack(bridge, 'a', cseq.seq), bridge.a.peer);
        this.#reinviteDone(bridge, 'a', res);
      }
      return;
    }
    if (bridge.b.reinvite && (bridge.state === 'answered' || bridge.state === 'ended')) {
      // The callee answering our re-INVITE.
      if (res.status >= 200) {
        if (res.status < 300) this.#send(this.#ack(bridge, 'b', cseq.seq), bridge.b.peer);
        this.#reinviteDone(bridge, 'b', res);
      }
      return;
    }
    // The callee answering our INVITE (or re-INVITE).
    bridge.stopRetransmit.splice(0).forEach((s) => s());
    if (res.status < 200) {
      if (res.status >= 180 && bridge.state === 'calling') {
        bridge.state = 'ringing';
        this.#answerA(bridge, res.status, res.reason);
      }
      return;
    }
    if (bridge.state === 'answered' || bridge.state === 'ended') {
      // A retransmitted 200 (our ACK was lost), or the answer to a re-INVITE: ACK it.
      if (res.status < 300) this.#send(this.#ack(bridge, 'b', cseq.seq), bridge.b.peer);
      return;
    }
    bridge.b.remoteTag = tagOf(header(res, 'To')!);
    if (res.status >= 300) {
      // Hop-by-hop ACK of the failure, then the caller hears it.
      this.#send(this.#ackFailure(bridge, res), bridge.b.peer);
      this.#answerA(bridge, res.status, res.reason);
      void this.#end(bridge, null, `callee answered ${res.status}`);
      return;
    }
    const contact = header(res, 'Contact');
    if (contact) bridge.b.target = uriOf(contact);
    bridge.b.identity = uriOf(assertedIdentity(res) ?? bridge.b.target);
    void this.#answered(bridge, res, cseq.seq);
  }

  async #answered(bridge: Bridge, res: SipResponse, seq: number): Promise<void> {
    bridge.state = 'answered';
    this.#send(this.#ack(bridge, 'b', seq), bridge.b.peer);
    try {
      bridge.b.media = readSdp(res.body);
      await this.#telephony().updateParty(bridge.capstanCallId!, 'callee', { address: bridge.b.media.address, port: bridge.b.media.port });
      bridge.targets = targetsOf(this.#telephony().get(bridge.capstanCallId!).legs);
    } catch (e) {
      this.#logger.warn({ err: e, sipCallId: bridge.a.callId }, 'the callee answered without usable SDP; its audio is not relayed');
    }
    const a = bridge.a.media!;
    // Nowhere to send yet (a callee without SDP, talking directly): the discard port, RFC 3264's "no media here".
    const toCaller = bridge.targets.caller ?? { address: '0.0.0.0', port: 9 };
    bridge.a.offered = toCaller;
    const sdp = writeSdp({ address: toCaller.address, port: toCaller.port, codec: a.codec, telephoneEventPayloadType: a.telephoneEventPayloadType, version: bridge.sdpVersion });
    const bytes = this.#answerA(bridge, 200, 'OK', sdp);
    bridge.stopRetransmit.push(this.#retransmit(bytes, bridge.a.peer));
    // A media server put in while the callee was ringing: the callee was offered the caller directly.
    this.#repoint(bridge);
  }

  #ack(bridge: Bridge, side: 'a' | 'b', seq: number): SipRequest {
    return this.#request(bridge, side, 'ACK', '', seq);
  }

  /** The ACK of a non-2xx final answer: same branch as the INVITE (RFC 3261 §17.1.1.3). */
  #ackFailure(bridge: Bridge, res: SipResponse): SipRequest {
    const invite = bridge.bInvite!;
    return {
      kind: 'request',
      method: 'ACK',
      uri: invite.uri,
      headers: [['Via', header(invite, 'Via')!], ['Max-Forwards', '70'], ['From', header(invite, 'From')!], ['To', header(res, 'To')!], ['Call-ID', header(invite, 'Call-ID')!], ['CSeq', `${parseCSeq(header(invite, 'CSeq')!)!.seq} ACK`]],
      body: '',
    };
  }

  /** Hold and resume from the caller: answered with the media server's address; the event raised. */
  #inDialogInvite(bridge: Bridge, req: SipRequest, reply: Peer): void {
    if (bridge.state !== 'answered' || !bridge.capstanCallId) {
      this.#send(this.#response(req, 491, 'Request Pending'), reply);
      return;
    }
    const side: 'a' | 'b' = bridge.a.callId === header(req, 'Call-ID') ? 'a' : 'b';
    const role = side === 'a' ? 'caller' : 'callee';
    if (bridge[side].reinvite) {
      // Both of us re-INVITing at once (glare): the other side retries later (RFC 3261 §14.1).
      this.#send(this.#response(req, 491, 'Request Pending'), reply);
      return;
    }
    let offer: MediaOffer;
    try {
      offer = readSdp(req.body);
    } catch {
      this.#send(this.#response(req, 488, 'Not Acceptable Here'), reply);
      return;
    }
    const before = bridge[side].media?.direction ?? 'sendrecv';
    bridge[side].media = offer;
    const ms = bridge.targets[role] ?? { address: '0.0.0.0', port: 9 };
    bridge[side].offered = ms;
    const answerDirection = offer.direction === 'sendonly' ? 'recvonly' : offer.direction === 'recvonly' ? 'sendonly' : offer.direction;
    bridge.sdpVersion++;
    const sdp = writeSdp({ address: ms.address, port: ms.port, codec: offer.codec, telephoneEventPayloadType: offer.telephoneEventPayloadType, direction: answerDirection, version: bridge.sdpVersion });
    this.#send(this.#response(req, 200, 'OK', [['Contact', this.#contact(reply)], ['Content-Type', 'application/sdp']], sdp), reply);
    const call = this.#telephony().get(bridge.capstanCallId);
    const held = offer.direction === 'sendonly' || offer.direction === 'inactive';
    const wasHeld = before === 'sendonly' || before === 'inactive';
    if (held && !wasHeld) this.#events.emit('call.held', { call, leg: role });
    if (!held && wasHeld) this.#events.emit('call.resumed', { call, leg: role });
    // A PBX that moved the call to another of its phones says so by re-INVITE with the new party's
    // identity (connected-line update): a transfer as far as the recording is concerned.
    const identity = assertedIdentity(req);
    if (identity && uriOf(identity) !== bridge[side].identity) {
      bridge[side].identity = uriOf(identity);
      this.#logger.info({ sipCallId: bridge.a.callId, leg: role, to: bridge[side].identity }, 'call transferred (re-INVITE with a new identity)');
      this.#events.emit('call.transferred', { call, to: bridge[side].identity });
    }
    if (offer.address === '0.0.0.0') return;
    const capstanCallId = bridge.capstanCallId;
    void this.#telephony()
      .updateParty(capstanCallId, role, { address: offer.address, port: offer.port })
      .then(() => {
        // Talking directly, the other party now sends to the new address: re-INVITE it.
        bridge.targets = targetsOf(this.#telephony().get(capstanCallId).legs);
        this.#repoint(bridge);
      })
      .catch(() => undefined);
  }

  /** Re-INVITEs each answered side whose target moved since we last told it (one at a time per side). */
  #repoint(bridge: Bridge): void {
    if (bridge.state !== 'answered') return;
    for (const side of ['a', 'b'] as const) {
      const want = bridge.targets[side === 'a' ? 'caller' : 'callee'];
      const told = bridge[side].offered;
      if (!want || bridge[side].reinvite || (told && told.address === want.address && told.port === want.port)) continue;
      this.#reinvite(bridge, side, want);
    }
  }

  /** Points one side elsewhere (a media server in or out of the path, failover): a re-INVITE with the new address. */
  #reinvite(bridge: Bridge, side: 'a' | 'b', to: Peer): void {
    const media = bridge[side].media ?? bridge.a.media!;
    bridge.sdpVersion++;
    bridge[side].offered = to;
    this.#counts.reinvites++;
    const req = this.#request(bridge, side, 'INVITE', writeSdp({ address: to.address, port: to.port, codec: media.codec, telephoneEventPayloadType: media.telephoneEventPayloadType, version: bridge.sdpVersion }));
    const bytes = this.#send(req, bridge[side].peer);
    this.#logger.debug({ sipCallId: bridge.a.callId, side, to }, 're-INVITE');
    bridge[side].reinvite = this.#retransmit(bytes, bridge[side].peer, () => {
      bridge[side].reinvite = null;
      this.#logger.warn({ sipCallId: bridge.a.callId, side }, 'the re-INVITE was never answered');
    });
  }

  /** The final answer to our re-INVITE: the next one may go; a refused one (491 glare...) is tried again. */
  #reinviteDone(bridge: Bridge, side: 'a' | 'b', res: SipResponse): void {
    bridge[side].reinvite?.();
    bridge[side].reinvite = null;
    if (res.status >= 300) {
      this.#logger.info({ sipCallId: bridge.a.callId, side, status: res.status }, 're-INVITE refused; trying again');
      bridge[side].offered = null;
      setTimeout(() => this.#repoint(bridge), res.status === 491 ? 1000 + Math.random() * 1000 : 2000).unref();
      return;
    }
    this.#repoint(bridge);
  }

  /**
   * A blind transfer (RFC 3515): the party on `side` asks that the other party talk to the Refer-To
   * target instead. Accepted (202), the target is called (through the routes when one matches its
   * number), and the transferor hears how it went by NOTIFY. Once the target answers it takes the
   * transferor's place: the media server relays to it (or, talking directly, the other party is
   * re-INVITEd to it), `call.transferred` is raised, and the recording goes on.
   */
  #refer(bridge: Bridge, req: SipRequest, reply: Peer): void {
    const callId = header(req, 'Call-ID')!;
    const referTo = header(req, 'Refer-To');
    if (!referTo || !/^<?sips?:/i.test(referTo.trim())) {
      this.#send(this.#response(req, 400, 'Bad Request (Refer-To missing or not a SIP URI)'), reply);
      return;
    }
    if (bridge.state !== 'answered' || bridge.transfer) {
      this.#send(this.#response(req, 491, 'Request Pending'), reply);
      return;
    }
    const replacing: 'a' | 'b' = bridge.a.callId === callId ? 'a' : 'b';
    const staying: 'a' | 'b' = replacing === 'a' ? 'b' : 'a';
    const role = replacing === 'a' ? 'caller' : 'callee';
    // Attended transfer (Refer-To with Replaces) is not taken: the target is called blind.
    const uri = uriOf(referTo).split('?')[0]!;
    const route = this.#route(userOf(uri), uri);
    if (!route && !this.#options.referUnrouted) {
      // Calling any URI a party names would let whoever is in a call place calls anywhere (toll fraud).
      this.#send(this.#response(req, 403, 'Forbidden (transfer target not routed)'), reply);
      return;
    }
    const targetUri = route ? this.#destination(route, userOf(uri)) : uri;
    if (!targetUri) {
      this.#send(this.#response(req, 480, 'Temporarily Unavailable'), reply);
      return;
    }
    this.#send(this.#response(req, 202, 'Accepted', [['Contact', this.#contact(reply)]]), reply);
    const transferor = bridge[replacing];
    const side: Side = {
      callId: `${randomBytes(12).toString('hex')}@capstan`,
      localTag: randomTag(),
      remoteTag: null,
      localUri: stripTag(bridge[staying].remoteUri),
      remoteUri: `<${targetUri}>`,
      target: targetUri,
      peer: peerOf(targetUri),
      cseq: 0,
      media: null,
      offered: null,
      reinvite: null,
      identity: targetUri,
    };
    const media = transferor.media ?? bridge.a.media!;
    const to = bridge.targets[role] ?? { address: bridge[staying].media!.address, port: bridge[staying].media!.port };
    side.offered = to;
    const invite = this.#requestOn(side, 'INVITE', writeSdp({ address: to.address, port: to.port, codec: media.codec, telephoneEventPayloadType: media.telephoneEventPayloadType, version: 1 }));
    this.#bridges.set(side.callId, bridge);
    const bytes = this.#send(invite, side.peer);
    const transfer: Transfer = { replacing, transferor, side, invite, targetUri, stop: () => undefined };
    transfer.stop = this.#retransmit(bytes, side.peer, () => {
      if (bridge.transfer !== transfer) return;
      this.#transferFailed(bridge, transfer, 408, 'Request Timeout');
    });
    bridge.transfer = transfer;
    this.#logger.info({ sipCallId: bridge.a.callId, replacing: role, target: targetUri }, 'transfer (REFER) accepted: calling the target');
    this.#notify(transferor, '100 Trying', false);
  }

  /** Tells the transferor how its REFER goes: a message/sipfrag NOTIFY (RFC 3515 §2.4.5). */
  #notify(transferor: Side, status: string, final: boolean): void {
    this.#send(
      this.#requestOn(transferor, 'NOTIFY', `SIP/2.0 ${status}\r\n`, undefined, [
        ['Event', 'refer'],
        ['Subscription-State', final ? 'terminated;reason=noresource' : 'active;expires=60'],
        ['Content-Type', 'message/sipfrag;version=2.0'],
      ]),
      transferor.peer,
    );
  }

  #transferFailed(bridge: Bridge, transfer: Transfer, status: number, reason: string): void {
    transfer.stop();
    bridge.transfer = null;
    this.#bridges.delete(transfer.side.callId);
    this.#logger.warn({ sipCallId: bridge.a.callId, target: transfer.targetUri, status }, 'transfer failed: the call stays as it was');
    this.#notify(transfer.transferor, `${status} ${reason}`, true);
  }

  async #onTransferResponse(bridge: Bridge, transfer: Transfer, res: SipResponse, seq: number): Promise<void> {
    const side = transfer.side;
    if (res.status < 200) return;
    if (bridge.transfer !== transfer || bridge.state !== 'answered') return;
    side.remoteTag = tagOf(header(res, 'To')!);
    if (res.status >= 300) {
      const invite = transfer.invite;
      this.#send({ kind: 'request', method: 'ACK', uri: invite.uri, headers: [['Via', header(invite, 'Via')!], ['Max-Forwards', '70'], ['From', header(invite, 'From')!], ['To', header(res, 'To')!], ['Call-ID', side.callId], ['CSeq', `${seq} ACK`]], body: '' }, side.peer);
      this.#transferFailed(bridge, transfer, res.status, res.reason);
      return;
    }
    transfer.stop();
    const contact = header(res, 'Contact');
    if (contact) side.target = uriOf(contact);
    this.#send(this.#requestOn(side, 'ACK', '', seq), side.peer);
    // The target answered: it takes the transferor's place in the bridge.
    const replaced = bridge[transfer.replacing];
    bridge[transfer.replacing] = side;
    bridge.retired.add(replaced.callId);
    bridge.transfer = null;
    replaced.reinvite?.();
    replaced.reinvite = null;
    this.#notify(replaced, '200 OK', true);
    const role = transfer.replacing === 'a' ? 'caller' : 'callee';
    const callId = bridge.capstanCallId!;
    try {
      side.media = readSdp(res.body);
      await this.#telephony().updateParty(callId, role, { address: side.media.address, port: side.media.port });
      bridge.targets = targetsOf(this.#telephony().get(callId).legs);
    } catch (e) {
      this.#logger.warn({ err: e, sipCallId: bridge.a.callId }, 'the transfer target answered without usable SDP; its audio is not relayed');
    }
    this.#logger.info({ sipCallId: bridge.a.callId, callId, target: transfer.targetUri }, 'call transferred');
    this.#events.emit('call.transferred', { call: this.#telephony().get(callId), to: transfer.targetUri });
    // Talking directly, the other party now sends to the target: re-INVITE it.
    this.#repoint(bridge);
    // The transferor is expected to hang up; forgotten after a while either way.
    setTimeout(() => this.#bridges.get(replaced.callId) === bridge && bridge.state !== 'ended' && this.#bridges.delete(replaced.callId), 64 * T1).unref();
  }

  /** Ends the call: BYE (or CANCEL) to `tell`, the Capstan call hung up (its recordings stop). */
  async #end(bridge: Bridge, tell: 'a' | 'b' | null, reason: string): Promise<void> {
    if (bridge.state === 'ended') return;
    const wasAnswered = bridge.state === 'answered';
    bridge.state = 'ended';
    bridge.stopRetransmit.splice(0).forEach((s) => s());
    if (bridge.transfer) {
      bridge.transfer.stop();
      bridge.transfer = null;
    }
    for (const side of [bridge.a, bridge.b]) {
      side.reinvite?.();
      side.reinvite = null;
    }
    if (tell === 'b' && !wasAnswered && bridge.bInvite) {
      const invite = bridge.bInvite;
      const cancel: SipRequest = { kind: 'request', method: 'CANCEL', uri: invite.uri, headers: [['Via', header(invite, 'Via')!], ['Max-Forwards', '70'], ['From', header(invite, 'From')!], ['To', header(invite, 'To')!], ['Call-ID', header(invite, 'Call-ID')!], ['CSeq', `${parseCSeq(header(invite, 'CSeq')!)!.seq} CANCEL`]], body: '' };
      this.#send(cancel, bridge.b.peer);
    } else if (tell !== null && wasAnswered) {
      const bye = this.#request(bridge, tell, 'BYE');
      const bytes = this.#send(bye, bridge[tell].peer);
      bridge.stopRetransmit.push(this.#retransmit(bytes, bridge[tell].peer));
    }
    if (bridge.capstanCallId) {
      await this.#telephony()
        .hangup(bridge.capstanCallId, reason)
        .catch((e: unknown) => this.#logger.warn({ err: e, callId: bridge.capstanCallId }, 'hanging up the call failed'));
      this.#byCapstanCall.delete(bridge.capstanCallId);
    }
    // Kept a little for retransmissions and late answers, then forgotten.
    setTimeout(() => this.#forget(bridge), 32 * T1).unref();
  }

  #forget(bridge: Bridge): void {
    bridge.stopRetransmit.splice(0).forEach((s) => s());
    for (const [callId, b] of this.#bridges) if (b === bridge) this.#bridges.delete(callId);
  }

  /** Ends every call (BYE both ways) and closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#off();
    const bridges = [...new Set(this.#bridges.values())];
    for (const b of bridges) {
      if (b.state === 'answered') {
        this.#send(this.#request(b, 'a', 'BYE'), b.a.peer);
        this.#send(this.#request(b, 'b', 'BYE'), b.b.peer);
      }
      b.state = 'ended';
      this.#forget(b);
    }
    await new Promise<void>((r) => this.#socket.close(() => r()));
    for (const conn of this.#connections.values()) conn.destroy();
    if (this.#tcpServer) await new Promise<void>((r) => this.#tcpServer!.close(() => r()));
  }
}

/** The party's asserted identity (RFC 3325 P-Asserted-Identity, or the older Remote-Party-ID), if any. */
function assertedIdentity(msg: SipMessage): string | undefined {
  return header(msg, 'P-Asserted-Identity') ?? header(msg, 'Remote-Party-ID');
}

/** A BlockList of the allowed sources (used as an allow list), or null when everyone is. */
function allowList(entries: string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const type = isIP(address!) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(prefix), type);
  }
  return list;
}

/** Where to send requests for a SIP URI: its host and port (5060), over TCP when it says `transport=tcp`. */
function peerOf(uri: string): Peer {
  const host = /@([^;>]+)/.exec(uri)?.[1] ?? /^sips?:([^;>]+)/.exec(uri)?.[1] ?? '';
  const [address, port] = host.split(':');
  return { address: address!, port: Number(port ?? 5060), transport: /;\s*transport=tcp/i.test(uri) ? 'tcp' : 'udp' };
}

function stripTag(value: string): string {
  return value.replace(/;\s*tag=[^;]+/i, '');
}

function targetsOf(legs: { role: 'caller' | 'callee'; rtp: { address: string; port: number } }[]): Bridge['targets'] {
  return Object.fromEntries(legs.map((l) => [l.role, { address: l.rtp.address, port: l.rtp.port }]));
}

function randomTag(): string {
  return randomBytes(6).toString('hex');
}
