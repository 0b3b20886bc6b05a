/**
 * The one configuration schema. Every option has its default here and in docs/configuration.md
 * (a test checks that every key is documented there).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { BUILTIN_RECORDING_MIMES } from '../../media/codecs/builtin-formats.ts';
import { COMPRESSIONS } from '../recorder/format-decision.ts';

const portRange = z
  .string()
  .regex(/^\d{1,5}-\d{1,5}$/, 'a range like 40000-40999')
  .refine((s) => {
    const [a, b] = s.split('-').map(Number) as [number, number];
    return a >= 1024 && b <= 65535 && a < b;
  }, 'ports between 1024 and 65535, first below last');

/** The built-in recording formats (docs/formats.md). */
const recordingMime = z.enum(BUILTIN_RECORDING_MIMES);

const policy = z.object({
  /** Name shown in logs. */
  name: z.string().min(1),
  /** Conditions; every one given must match. An empty `when` matches every call. */
  when: z
    .object({
      workgroup: z.array(z.string()).optional(),
      agent: z.array(z.string()).optional(),
      direction: z.array(z.enum(['inbound', 'outbound', 'internal'])).optional(),
      /** Regular expression on the calling number. */
      ani: z.string().optional(),
      /** Regular expression on the called number. */
      dnis: z.string().optional(),
      /** The call's location (of the requesting device) is one of these. */
      location: z.array(z.string()).optional(),
    })
    .prefault({}),
  /** `true` records matching calls; `false` stops evaluation without recording. */
  record: z.boolean().default(true),
  /** 1 mixes all parties; 2 puts the caller on the left channel and everyone else on the right. Default 2. */
  channels: z.union([z.literal(1), z.literal(2)]).default(2),
  /** Recording MIME type, overriding `compression`'s choice; unset means the format decision decides. */
  mime: recordingMime.optional(),
  /**
   * Compression: `opus` (Ogg Opus), `gsm` (GSM 06.10 WAV), `truespeech` (TrueSpeech WAV) or
   * `none` (the media servers' `recordingMimeTypeDefault`). Default `none`.
   */
  compression: z.enum(COMPRESSIONS).default('none'),
  tags: z.array(z.string()).default([]),
  /** Encrypt as SASF. Default: `recorder.encryption.enabled`. */
  encrypt: z.boolean().optional(),
  /**
   * Who keeps the media: `recorder` (the Recorder's content store) or `rcs` (the Remote Content
   * Service server serving the call's location; requester `recorder-rcs`). Default `recorder`.
   */
  keep: z.enum(['recorder', 'rcs']).default('recorder'),
});

const ruleEntry = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const selection = z
  .object({
    /** Rule set used for locations not listed in `byLocation`. Default `default`. */
    default: z.string().min(1).default('default'),
    /** Named rule sets: a prioritized list of locations (docs/telephony.md). */
    ruleSets: z
      .record(
        z.string().min(1),
        z
          .object({
            /** Tried in order: a location, `@device`, `@audio-path`, `@host`, `<Any>`, or a list of those (a load-balanced group). */
            locations: z.array(ruleEntry).min(1, 'an empty rule set is not allowed'),
            /** Locations `<Any>` never picks. Default []. */
            exclude: z.array(z.string().min(1)).default([]),
          })
          .strict(),
      )
      .default({ default: { locations: ['@device', '@audio-path', '@host', '<Any>'], exclude: [] } }),
    /** Which rule set a requesting device's location uses, by location. Default {}. */
    byLocation: z.record(z.string().min(1), z.string().min(1)).default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (!(s.default in s.ruleSets)) ctx.addIssue({ code: 'custom', path: ['default'], message: `no rule set named "${s.default}" (have: ${Object.keys(s.ruleSets).join(', ')})` });
    for (const [loc, name] of Object.entries(s.byLocation)) {
      if (!(name in s.ruleSets)) ctx.addIssue({ code: 'custom', path: ['byLocation', loc], message: `no rule set named "${name}"` });
    }
  })
  .prefault({});

export const ConfigSchema = z
  .object({
    /** The host's HTTP API, web console and media-server registration endpoint. */
    http: z
      .object({
        /** TCP port. Default 8080. */
        port: z.number().int().min(0).max(65535).default(8080),
        /** Address to listen on. Default 127.0.0.1 (set 0.0.0.0 to let other machines' media servers register). */
        address: z.string().default('127.0.0.1'),
        /** URL media servers and call sources use to reach the host. Default http://<address>:<port>. */
        publicUrl: z.string().url().optional(),
      })
      .strict()
      .prefault({}),
    /** Who may use the HTTP API (docs/api.md). */
    api: z
      .object({
        /**
         * API tokens with their role. With none configured the API is open to whoever reaches
         * `http.address` (the default, loopback only, for a single box). Default [].
         */
        tokens: z
          .array(
            z
              .object({
                /** Who holds it, as written in the audit log. */
                name: z.string().min(1),
                /** The bearer token itself: at least 24 characters. Read it from the environment in a `.ts` config. */
                token: z.string().min(24, 'at least 24 characters'),
                /** `admin` (everything), `supervisor` (all recordings, read), `agent` (its own calls and recordings). */
                role: z.enum(['admin', 'supervisor', 'agent']),
                /** The agent id an `agent` token stands for. */
                agent: z.string().min(1).optional(),
              })
              .strict()
              .refine((t) => t.role !== 'agent' || t.agent !== undefined, { message: 'an agent token needs "agent"', path: ['agent'] }),
          )
          .default([]),
      })
      .strict()
      .prefault({}),
    /** The SIP call source: a B2BUA taking calls from phones, PBXs and trunks (docs/sip.md). */
    sip: z
      .object({
        /** Take SIP calls. Default true. */
        enabled: z.boolean().default(true),
        /** UDP port (and TCP, the same number). Default 5060 (0: any free port). */
        port: z.number().int().min(0).max(65535).default(5060),
        /** Also take and place calls over TCP on that port. Default true. */
        tcp: z.boolean().default(true),
        /** Listen address. Default 0.0.0.0. */
        address: z.string().min(1).default('0.0.0.0'),
        /** Address put in Via and Contact headers. Default: `address`, or 127.0.0.1 for 0.0.0.0. */
        advertiseAddress: z.string().min(1).optional(),
        /** Location of SIP calls for the media server selection. Default: the host's `location`. */
        location: z.string().min(1).optional(),
        /**
         * Where calls go, first match wins: `{ match, to, workgroup?, agent?, audioPath? }` — `match`
         * a regular expression on the called number, `to` the SIP URI the B2BUA calls (or
         * `registered`: the phone registered under the called number; `registered:USER`: under
         * USER), `audioPath` this line's audio path (`always-in` or `dynamic`; default: `audioPaths`
         * by location). Default [] (404 to all).
         */
        routes: z
          .array(
            z
              .object({
                match: z.string().min(1),
                to: z.string().regex(/^(sips?:|registered(:.+)?$)/, 'a sip: URI, `registered` or `registered:USER`'),
                workgroup: z.string().min(1).optional(),
                agent: z.string().min(1).optional(),
                audioPath: z.enum(['always-in', 'dynamic']).optional(),
              })
              .strict(),
          )
          .default([]),
        /**
         * Addresses and networks SIP may come from (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`):
         * requests from anywhere else are answered 403, responses dropped, both counted. Default []
         * (anyone: set it whenever the port is reachable from networks you do not trust).
         */
        allowFrom: z
          .array(
            z.string().refine((v) => {
              const [address, prefix, ...rest] = v.split('/');
              const family = isIP(address ?? '');
              if (family === 0 || rest.length > 0) return false;
              return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
            }, 'an IP address or network, e.g. 10.0.0.0/8'),
          )
          .default([]),
        /**
         * Let a REFER transfer call a target no route matches, as the URI the party gave. Default
         * false: such a REFER is refused 403 (whoever is in a call could otherwise place calls anywhere).
         */
        referUnrouted: z.boolean().default(false),
        /** The registrar for agent phones (docs/sip.md#registering-phones). */
        registrar: z
          .object({
            /** Users who may REGISTER, each with its Digest password: { "1001": "secret" }. Default {}. */
            users: z.record(z.string().min(1), z.string().min(1)).default({}),
            /** Let anyone register any number without a password (closed networks only). Default false. */
            open: z.boolean().default(false),
            /** Digest realm. Default `capstan`. */
            realm: z.string().min(1).default('capstan'),
            /** Longest registration granted, seconds. Default 3600. */
            maxExpires: z.number().int().min(60).default(3600),
            /** Shortest registration accepted, seconds (shorter ones get 423). Default 60. */
            minExpires: z.number().int().min(1).default(60),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** The web console served by the host at `/console` (docs/console.md). */
    console: z
      .object({
        /** Serve the console. Default true. */
        enabled: z.boolean().default(true),
        /**
         * Who may sign in: `{ name, role, agent?, passwordHash }`, the hash made by
         * `capstan console-user`. With none, a first administrator `admin` is created at the first
         * start with a generated password, printed once. Default [].
         */
        users: z
          .array(
            z
              .object({
                /** Sign-in name, as the audit log names them. */
                name: z.string().min(1),
                role: z.enum(['admin', 'supervisor', 'agent']),
                /** The agent id an `agent` user stands for (its calls and recordings). */
                agent: z.string().min(1).optional(),
                /** scrypt hash from `capstan console-user` (never the password itself). */
                passwordHash: z.string().startsWith('scrypt$'),
              })
              .strict()
              .refine((u) => u.role !== 'agent' || u.agent !== undefined, { message: 'an agent user needs "agent"', path: ['agent'] }),
          )
          .default([]),
        /** Longest a secure pause may last before the recording resumes by itself, s. Default 120. */
        securePauseMaxSeconds: z.number().int().min(1).max(3600).default(120),
        /** A signed-in session lasts this long, hours. Default 8. */
        sessionHours: z.number().min(0.1).max(168).default(8),
      })
      .strict()
      .prefault({}),
    /** Folder for the database, recordings, outbox and secrets. Default `var`. */
    dataDir: z.string().min(1).default('var'),
    /** Folder of handler scripts. Default `handlers`. */
    handlersDir: z.string().min(1).default('handlers'),
    /** Log level: fatal, error, warn, info, debug, trace or silent. Default info. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** The host's own location (the selection rules' "control server's location"). Default `default`. */
    location: z.string().min(1).default('default'),
    /**
     * Secret shared with media servers (control API auth and signed file URIs). Default: generated
     * on first start and kept in `<dataDir>/secret` (mode 0600).
     */
    secret: z.string().min(16).optional(),
    mediaServers: z
      .object({
        /** Media servers started as child processes of the host. Default 2; 0 for none. */
        embedded: z.number().int().min(0).max(16).default(2),
        /** Location of the embedded media servers. Default: the host's `location`. */
        location: z.string().min(1).optional(),
        /** UDP ports for RTP, split evenly between embedded media servers. Default 40000-40999. */
        rtpPorts: portRange.default('40000-40999'),
        /** Address the embedded media servers receive RTP on. Default 127.0.0.1. */
        rtpAddress: z.string().default('127.0.0.1'),
        /**
         * How the embedded media servers read and write RTP: `native` (the native socket set,
         * recvmmsg/sendmmsg in batches), `dgram` (node:dgram) or `auto` (native when its addon
         * loads, else dgram with a warning). Default `auto`.
         */
        udp: z.enum(['auto', 'native', 'dgram']).default('auto'),
        /** MIME type used when a request leaves the format open (RecordingMimeTypeDefault). Default audio/L16. */
        recordingMimeTypeDefault: recordingMime.default('audio/L16'),
        /** Codec plugin modules the embedded media servers load (`--codec-module`). Default: none. */
        codecModules: z.array(z.string().min(1)).default([]),
        /** A media server that has not reported load for this long is marked down, ms. Default 1500. */
        downAfterMs: z.number().int().min(200).default(1500),
        /** Finished files never fetched are removed from the embedded media servers after this many days (0: never). Default 7. */
        retentionDays: z.number().min(0).default(7),
      })
      .strict()
      .prefault({}),
    /** Media Server Selection Rules. */
    selection,
    /** How calls' audio reaches media servers (docs/telephony.md). */
    audioPaths: z
      .object({
        /**
         * `dynamic`: the legs talk directly and a media server is put into the path when a recording
         * starts (and taken out when none is left); `always-in`: a media server relays the call from
         * its first packet. Default `dynamic`.
         */
        default: z.enum(['dynamic', 'always-in']).default('dynamic'),
        /** Audio path by requesting device location, e.g. { "branch-1": "always-in" }. Default {}. */
        byLocation: z.record(z.string().min(1), z.enum(['dynamic', 'always-in'])).default({}),
      })
      .strict()
      .prefault({}),
    /** The handler runtime: sandbox limits, hot reload, each handler's configuration (docs/handlers.md). */
    handlers: z
      .object({
        /** Watch `handlersDir` and hot-reload handlers on save. Default true. */
        watch: z.boolean().default(true),
        /** Quiet time after a file event before the handler is reloaded, ms. Default 25. */
        reloadDebounceMs: z.number().int().min(0).default(25),
        /** Heap limit of each handler's isolate, MB (8 at least). Default 32. */
        memoryMb: z.number().int().min(8).default(32),
        /** CPU one event may use in a handler, continuations included, ms. Default 50. */
        cpuMsPerEvent: z.number().min(1).default(50),
        /** Wall-clock time from an event to its last listener settling, ms. Default 5000. */
        deadlineMs: z.number().int().min(10).default(5000),
        /** Time a handler's top-level code may run when it loads, ms. Default 1000. */
        loadTimeoutMs: z.number().int().min(10).default(1000),
        /** Host API calls (actions, logs, state) per event. Default 100. */
        maxHostCallsPerEvent: z.number().int().min(1).default(100),
        /** Size of one handler's persistent state as JSON, bytes. Default 65536. */
        stateMaxBytes: z.number().int().min(256).default(65536),
        /** Folder of the handlers' persistent state. Default `<dataDir>/handler-state`. */
        stateDir: z.string().optional(),
        /** Each handler's configuration, by handler name (its file name without `.ts`). Default {}. */
        config: z.record(z.string(), z.unknown()).default({}),
      })
      .strict()
      .prefault({}),
    recorder: z
      .object({
        database: z
          .object({
            /** `sqlite` (embedded, default) or `pg` (PostgreSQL). */
            client: z.enum(['sqlite', 'pg']).default('sqlite'),
            /** SQLite file. Default `<dataDir>/capstan.sqlite`. */
            filename: z.string().optional(),
            /** PostgreSQL connection string, for client `pg`. */
            connection: z.string().optional(),
          })
          .strict()
          .prefault({}),
        /**
         * Recorder policies, first match wins. Default: one policy that records every call
         * (remove it, or set `record: false`, to record nothing by default).
         */
        policies: z.array(policy).default([{ name: 'record-all', when: {}, record: true, channels: 2, compression: 'none', tags: [], keep: 'recorder' }]),
        encryption: z
          .object({
            /** Write the Recorder's recordings as SASF, encrypted to the Recorder's key. Default false. */
            enabled: z.boolean().default(false),
            /** The Recorder's key folder (`capstan keys`). Default `<dataDir>/keys`. */
            keysDir: z.string().optional(),
            /** Environment variable holding the passphrase of the private keys, if they have one. Default: none. */
            passphraseEnv: z.string().optional(),
          })
          .strict()
          .prefault({}),
        retention: z
          .object({
            /**
             * Retention policies, first match per recording wins. Each: `name`, `olderThanDays`,
             * optional `workgroup` / `agent` / `tag` lists, and `action`: `purge-media`, `purge-all`
             * or `move` (with `moveTo`, a name from `locations`). Default: none (keep everything).
             */
            policies: z
              .array(
                z
                  .object({
                    name: z.string().min(1),
                    olderThanDays: z.number().min(0),
                    workgroup: z.array(z.string()).optional(),
                    agent: z.array(z.string()).optional(),
                    tag: z.array(z.string()).optional(),
                    action: z.enum(['purge-media', 'purge-all', 'move']),
                    moveTo: z.string().min(1).optional(),
                  })
                  .strict()
                  .refine((p) => p.action !== 'move' || p.moveTo !== undefined, { message: 'a move needs moveTo', path: ['moveTo'] }),
              )
              .default([]),
            /** How often the policies run, minutes (0: only on demand). Default 60. */
            intervalMinutes: z.number().min(0).default(60),
            /** Folders media can be moved to, by name, e.g. { "archive": "/mnt/archive" }. Default {}. */
            locations: z.record(z.string().min(1), z.string().min(1)).default({}),
          })
          .strict()
          .superRefine((r, ctx) => {
            for (const [i, p] of r.policies.entries()) {
              if (p.moveTo !== undefined && !(p.moveTo in r.locations)) {
                ctx.addIssue({ code: 'custom', path: ['policies', i, 'moveTo'], message: `no location named "${p.moveTo}" in recorder.retention.locations` });
              }
            }
          })
          .prefault({}),
        /** Attempts to fetch a finished recording before it is reported failed (kept on the media server). Default 5. */
        fetchAttempts: z.number().int().min(1).default(5),
      })
      .strict()
      .prefault({}),
    mail: z
      .object({
        /** SMTP server; when unset, messages are written as .eml files to `outboxDir`. */
        smtp: z
          .object({
            host: z.string().min(1),
            /** Default 587. */
            port: z.number().int().min(1).max(65535).default(587),
            /** TLS from the start (port 465). Default false (STARTTLS when offered). */
            secure: z.boolean().default(false),
            user: z.string().optional(),
            pass: z.string().optional(),
          })
          .strict()
          .optional(),
        /** Sender address. Default capstan@localhost. */
        from: z.string().default('capstan@localhost'),
        /** Outbox folder when no SMTP server is set. Default `<dataDir>/outbox`. */
        outboxDir: z.string().optional(),
        /** Agents' e-mail addresses, by agent id: where their ad hoc (client) recordings go. Default {}. */
        agents: z.record(z.string(), z.string().email()).default({}),
        /** Workgroups' e-mail addresses, by workgroup name: where their record-all recordings go. Default {}. */
        workgroups: z.record(z.string(), z.string().email()).default({}),
        /** Larger recordings are stored by the Recorder and mailed as a link instead of an attachment, bytes. Default 20 MiB. */
        maxAttachmentBytes: z.number().int().min(1024).default(20 * 1024 * 1024),
        /**
         * After the mail is accepted, the Recorder also keeps the recording (so supervisors find and
         * play it), and it is the Recorder that deletes the media server's copy. Default true.
         */
        keepCopy: z.boolean().default(true),
        /** Delay before the first retry of a failed delivery, ms; doubles up to `retryMaxMs`. Default 1000. */
        retryInitialMs: z.number().int().min(10).default(1000),
        /** Longest delay between delivery retries, ms. Retries never stop: the file is kept until the mail is accepted. Default 300000. */
        retryMaxMs: z.number().int().min(10).default(300_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type CapstanConfig = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type RecorderPolicy = z.infer<typeof policy>;
