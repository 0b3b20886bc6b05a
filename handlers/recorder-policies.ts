/**
 * Recorder policies: initiation rules that decide, when a call connects, whether the Recorder
 * records it and how. Policies are evaluated in order; each one whose conditions all match applies
 * its actions (a later match overrides compression, encryption, MIME, channels and retention, and
 * adds tags and addresses); a matching policy with `stopProcessing` ends the evaluation. If the
 * result is to record, one recording is started (requester `recorder` by default, so the Recorder
 * stores it in its database).
 *
 * Does nothing unless configured (the host's built-in `recorder.policies` records calls by
 * default; see docs/handlers.md for how the two meet). Configuration, `handlers.config`:
 *
 *   "recorder-policies": {
 *     "requester": "recorder",                      // or "recorder-rcs"
 *     "policies": [
 *       { "name": "no-internal", "when": { "direction": ["internal"] }, "actions": { "record": false, "stopProcessing": true } },
 *       { "name": "sales", "when": { "workgroup": ["sales"], "timeOfDay": { "from": "08:00", "to": "18:00", "days": ["mon","tue","wed","thu","fri"], "timeZone": "Europe/Paris" } },
 *         "actions": { "record": true, "compression": "opus", "tags": ["sales"], "retentionDays": 90 } },
 *       { "name": "qa-sample", "when": { "percentage": 10 }, "actions": { "record": true, "email": "qa@example.com" } }
 *     ]
 *   }
 *
 * Conditions (`when`; every one given must match; none matches every call):
 *   agent, workgroup, role, station, line: lists of allowed values (role, station and line are
 *     read from the call's attributes of those names);
 *   direction: list of inbound, outbound, internal;
 *   ani, dnis: regular expressions on the calling and called number;
 *   attributes: { name: regular expression } on the call's attributes;
 *   timeOfDay: { from: "HH:MM", to: "HH:MM", days?: ["mon",...], timeZone?: IANA name, default UTC }
 *     on the call's start; from > to spans midnight;
 *   percentage: 0–100, a stable sample by call id (the same call always gets the same answer).
 * Actions: record (true/false), compression (none, opus, gsm, truespeech — passed through; the
 *   media side does not compress yet), encryption (true: SASF to the Recorder's key), mime,
 *   channels, tags, retentionDays (passed through for the Recorder's retention), email (address or
 *   list: the recording is also mailed there), stopProcessing.
 */
type Direction = 'inbound' | 'outbound' | 'internal';
interface When {
  agent?: string[];
  workgroup?: string[];
  role?: string[];
  station?: string[];
  line?: string[];
  direction?: Direction[];
  ani?: string;
  dnis?: string;
  attributes?: { [name: string]: string };
  timeOfDay?: { from: string; to: string; days?: string[]; timeZone?: string };
  percentage?: number;
}
interface Actions {
  record?: boolean;
  compression?: 'none' | 'opus' | 'gsm' | 'truespeech';
  encryption?: boolean;
  mime?: string;
  channels?: 1 | 2;
  tags?: string[];
  retentionDays?: number;
  email?: string | string[];
  stopProcessing?: boolean;
}
interface Policy {
  name: string;
  when?: When;
  actions?: Actions;
}

type Test = (call: CapstanHandler.CallInfo) => boolean;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function minutesOf(hhmm: string, policy: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new Error(`policy "${policy}": timeOfDay "${hhmm}" is not HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** FNV-1a of the call id and policy name, 0–9999: a sample that does not change between versions or hosts. */
function bucketOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 10000;
}

/** Compiles a policy's conditions once, at load: a bad regular expression or time fails the load, not a call. */
function compile(policy: Policy): Test {
  const w = policy.when ?? {};
  const tests: Test[] = [];
  const inList = (list: string[] | undefined, get: (c: CapstanHandler.CallInfo) => string | null | undefined): void => {
    if (list) tests.push((c) => { const v = get(c); return v !== null && v !== undefined && list.includes(v); });
  };
  inList(w.agent, (c) => c.agent);
  inList(w.workgroup, (c) => c.workgroup);
  inList(w.role, (c) => c.attributes.role);
  inList(w.station, (c) => c.attributes.station);
  inList(w.line, (c) => c.attributes.line);
  if (w.direction) tests.push((c) => w.direction!.includes(c.direction));
  if (w.ani !== undefined) { const re = new RegExp(w.ani); tests.push((c) => re.test(c.from)); }
  if (w.dnis !== undefined) { const re = new RegExp(w.dnis); tests.push((c) => re.test(c.to)); }
  for (const [name, pattern] of Object.entries(w.attributes ?? {})) {
    const re = new RegExp(pattern);
    tests.push((c) => c.attributes[name] !== undefined && re.test(c.attributes[name]!));
  }
  if (w.timeOfDay) {
    const { from, to, days, timeZone = 'UTC' } = w.timeOfDay;
    const start = minutesOf(from, policy.name);
    const end = minutesOf(to, policy.name);
    for (const d of days ?? []) if (!DAYS.includes(d)) throw new Error(`policy "${policy.name}": day "${d}" is not one of ${DAYS.join(', ')}`);
    const format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    tests.push((c) => {
      const parts = Object.fromEntries(format.formatToParts(new Date(c.startedAt)).map((p) => [p.type, p.value]));
      const minute = Number(parts.hour) * 60 + Number(parts.minute);
      const day = String(parts.weekday).toLowerCase().slice(0, 3);
      if (days && !days.includes(day)) return false;
      return start <= end ? minute >= start && minute < end : minute >= start || minute < end;
    });
  }
  if (w.percentage !== undefined) {
    if (!(w.percentage >= 0 && w.percentage <= 100)) throw new Error(`policy "${policy.name}": percentage must be 0 to 100`);
    const threshold = w.percentage * 100;
    tests.push((c) => bucketOf(`${c.callId}/${policy.name}`) < threshold);
  }
  return (c) => tests.every((t) => t(c));
}

const policies = ((capstan.config.policies ?? []) as Policy[]).map((policy, i) => {
  if (typeof policy?.name !== 'string' || policy.name.length === 0) throw new Error(`policy #${i + 1} needs a "name"`);
  return { policy, matches: compile(policy) };
});
const requester = (capstan.config.requester ?? 'recorder') as 'recorder' | 'recorder-rcs';
if (requester !== 'recorder' && requester !== 'recorder-rcs') throw new Error('"requester" is recorder or recorder-rcs');

if (policies.length > 0) {
  capstan.on('call.connected', async ({ call }) => {
    let record = false;
    const matched: string[] = [];
    const tags = new Set<string>();
    const emails = new Set<string>();
    let options: CapstanHandler.StartOptions = {};
    for (const { policy, matches } of policies) {
      if (!matches(call)) continue;
      matched.push(policy.name);
      const a = policy.actions ?? {};
      if (a.record !== undefined) record = a.record;
      if (a.compression !== undefined) options = { ...options, compression: a.compression };
      if (a.encryption !== undefined) options = { ...options, encryption: a.encryption };
      if (a.mime !== undefined) options = { ...options, mime: a.mime };
      if (a.channels !== undefined) options = { ...options, channels: a.channels };
      if (a.retentionDays !== undefined) options = { ...options, retentionDays: a.retentionDays };
      for (const tag of a.tags ?? []) tags.add(tag);
      for (const address of typeof a.email === 'string' ? [a.email] : (a.email ?? [])) emails.add(address);
      if (a.stopProcessing) break;
    }
    if (!record) {
      if (matched.length > 0) capstan.log.debug('policies matched; not recording', { callId: call.callId, matched });
      return;
    }
    const recording = await capstan.record.start(call.callId, {
      ...options,
      requester,
      tags: [...matched.map((name) => `policy:${name}`), ...tags],
      deliverTo: emails.size > 0 ? [...emails].join(', ') : null,
    });
    capstan.log.info('recorder policy started a recording', { callId: call.callId, recordingId: recording.recordingId, matched });
  });
}
