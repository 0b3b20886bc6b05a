/**
 * The JavaScript that runs first in every handler isolate and builds the `capstan` API there.
 *
 * It is a plain string, not a function's `toString()`, because transpilers may inject helpers
 * (esbuild's `__name`) that do not exist inside the isolate.
 *
 * The host gives the isolate exactly one function, `__capstan_host(op, json)`: an `ivm.Callback`
 * that takes strings and answers a JSON string, so nothing but copies ever crosses. This script
 * captures it in a closure and deletes it (and the boot data) from the global object before any
 * handler code runs. The host keeps References to `dispatch`, `settle`, `finishLoad`, `listTests`
 * and `runTest`, reads them off the global object and deletes them too: handler code can reach
 * none of them, only the frozen `capstan` object.
 *
 * The test API (`capstanTest`) exists only when the boot data says `mode: "test"`.
 */
export const GUEST_PRELUDE = String.raw`(function () {
  'use strict';
  var host = globalThis.__capstan_host;
  var boot = JSON.parse(globalThis.__capstan_boot);
  delete globalThis.__capstan_host;
  delete globalThis.__capstan_boot;
  // Nothing a handler needs; each only widens what hostile code could try.
  delete globalThis.WebAssembly;
  delete globalThis.SharedArrayBuffer;
  delete globalThis.Atomics;

  // Captured before handler code can replace them (it can only break its own sandbox anyway).
  var parse = JSON.parse, stringify = JSON.stringify, freeze = Object.freeze, hasOwn = Object.hasOwn;
  var keysOf = Object.keys, isArray = Array.isArray, is = Object.is, defineProperty = Object.defineProperty;
  var ErrorCtor = Error, TypeErrorCtor = TypeError, PromiseCtor = Promise;
  var promiseThen = Promise.prototype.then, rejectPromise = Promise.reject.bind(Promise);

  var eventNames = boot.events;
  var listeners = Object.create(null);
  var loading = true;
  var current = 0; // the event whose code runs now: set on each entry from the host
  var nextId = 1;
  var pending = new Map(); // action id -> { resolve, reject, seq }
  var actionErrors = new WeakSet(); // errors of failed actions: the host's to report, not the handler's fault

  function toError(info) {
    var e = new ErrorCtor(info.message);
    if (info.code) e.code = info.code;
    if (info.details) e.details = info.details;
    return e;
  }
  function answer(json) {
    var r = parse(json);
    if (hasOwn(r, 'error')) throw toError(r.error);
    return r.value;
  }
  function request(op, payload) {
    return answer(host(op, stringify(payload)));
  }
  function describe(e) {
    try {
      if (e instanceof ErrorCtor) return { name: String(e.name), message: String(e.message), stack: String(e.stack || '').slice(0, 2000) };
      return { name: 'NonError', message: String(e).slice(0, 500) };
    } catch (_) {
      return { name: 'NonError', message: 'an unprintable value was thrown' };
    }
  }
  function quiet(p) {
    // A failed action is reported by the host; keep V8 from also calling it an unhandled rejection.
    promiseThen.call(p, undefined, function () {});
    return p;
  }
  function action(op, args) {
    var seq = current;
    try {
      var id = nextId++;
      request('action', { op: op, args: args, seq: seq, id: id });
      return quiet(new PromiseCtor(function (resolve, reject) { pending.set(id, { resolve: resolve, reject: reject, seq: seq }); }));
    } catch (e) {
      actionErrors.add(e);
      return quiet(rejectPromise(e));
    }
  }
  function deepFreeze(v) {
    if (v !== null && typeof v === 'object') {
      var keys = keysOf(v);
      for (var i = 0; i < keys.length; i++) deepFreeze(v[keys[i]]);
      freeze(v);
    }
    return v;
  }
  function on(event, fn) {
    if (!loading) throw new ErrorCtor('capstan.on() works only while the handler loads (in its top-level code)');
    if (typeof event !== 'string' || eventNames.indexOf(event) < 0) {
      throw new TypeErrorCtor('capstan.on(): unknown event ' + String(event) + '; one of ' + eventNames.join(', '));
    }
    if (typeof fn !== 'function') throw new TypeErrorCtor('capstan.on(): the listener must be a function');
    (listeners[event] || (listeners[event] = [])).push(fn);
  }
  function logAt(level) {
    return function (message, fields) {
      var payload = { level: level, message: String(message), fields: fields, seq: current };
      var json;
      try { json = stringify(payload); } catch (_) { payload.fields = '[unserializable]'; json = stringify(payload); }
      answer(host('log', json));
    };
  }
  function stateKey(key) {
    return { key: String(key), seq: current };
  }

  var capstan = freeze({
    handler: freeze({ name: boot.name, version: boot.version }),
    config: deepFreeze(boot.config === undefined || boot.config === null ? {} : boot.config),
    on: on,
    record: freeze({
      start: function (callId, options) { return action('start', { callId: callId, options: options === undefined ? {} : options }); },
      pause: function (recordingId) { return action('pause', { recordingId: recordingId }); },
      securePause: function (recordingId) { return action('securePause', { recordingId: recordingId }); },
      resume: function (recordingId) { return action('resume', { recordingId: recordingId }); },
      stop: function (recordingId) { return action('stop', { recordingId: recordingId }); },
    }),
    log: freeze({ debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') }),
    state: freeze({
      get: function (key) { return request('state.get', stateKey(key)); },
      set: function (key, value) {
        var p = stateKey(key);
        p.value = value;
        if (value === undefined) return request('state.delete', p);
        request('state.set', p);
      },
      delete: function (key) { request('state.delete', stateKey(key)); },
      keys: function () { return request('state.keys', stateKey('')); },
    }),
  });
  defineProperty(globalThis, 'capstan', { value: capstan, writable: false, enumerable: false, configurable: false });
  defineProperty(globalThis, 'require', {
    value: function () { throw new ErrorCtor('Handlers cannot import or require modules: everything a handler may use is on the global capstan object (docs/handlers.md)'); },
    writable: false, enumerable: false, configurable: false,
  });

  function failed(seq, error, async) {
    if (actionErrors.has(error)) return; // the host already logged the failed action
    host('threw', stringify({ seq: seq, async: async, error: describe(error) }));
  }
  function watch(seq, result, then) {
    var done = function () { host('done', String(seq)); };
    try {
      then.call(result, done, function (e) { failed(seq, e, true); done(); });
    } catch (e) {
      failed(seq, e, false);
      done();
    }
  }

  // Host → guest: one event. Answers how many listeners are still running (returned promises).
  globalThis.__capstan_dispatch = function (seq, event, json) {
    current = seq;
    var fns = listeners[event];
    if (fns === undefined) return 0;
    var payload = parse(json);
    var waiting = 0;
    for (var i = 0; i < fns.length; i++) {
      var result;
      try { result = fns[i](payload); } catch (e) { failed(seq, e, false); continue; }
      if (result !== null && (typeof result === 'object' || typeof result === 'function')) {
        var then;
        try { then = result.then; } catch (e) { failed(seq, e, false); continue; }
        if (typeof then === 'function') {
          waiting++;
          watch(seq, result, then);
        }
      }
    }
    return waiting;
  };

  // Host → guest: an action (or a test request) finished. json is the result, or the error when !ok.
  globalThis.__capstan_settle = function (id, ok, json) {
    var p = pending.get(id);
    if (p === undefined) return;
    pending.delete(id);
    current = p.seq;
    if (ok) { p.resolve(json === '' ? undefined : parse(json)); return; }
    var e = toError(parse(json));
    if (!p.test) actionErrors.add(e);
    p.reject(e);
  };

  globalThis.__capstan_finishLoad = function () {
    loading = false;
    return stringify(keysOf(listeners));
  };

  // ---- capstan handlers test: only in test mode ----
  var tests = [];
  globalThis.__capstan_listTests = function () {
    return stringify(tests.map(function (t) { return { name: t.name, config: t.config }; }));
  };
  globalThis.__capstan_runTest = function () { throw new ErrorCtor('not in test mode'); };
  if (boot.mode !== 'test') return;

  var serial = 0;
  function testRequest(op, payload) {
    var id = nextId++;
    payload.id = id;
    request(op, payload);
    return new PromiseCtor(function (resolve, reject) { pending.set(id, { resolve: resolve, reject: reject, seq: 0, test: true }); });
  }
  function makeCall(overrides) {
    serial++;
    var call = {
      callId: 'call-' + serial, source: 'test', direction: 'inbound', from: '+15550100', to: '+15550199',
      workgroup: null, agent: null, location: 'default', startedAt: '2025-01-06T10:00:00.000Z', attributes: {},
    };
    var o = overrides || {};
    var keys = keysOf(o);
    for (var i = 0; i < keys.length; i++) call[keys[i]] = o[keys[i]];
    return call;
  }
  function makeRecording(overrides) {
    serial++;
    var rec = {
      recordingId: 'rec-' + serial, callId: 'call-' + serial, requester: 'handler', mediaServerId: 'ms-test',
      fileName: 'rec-' + serial + '.wav', uri: 'http://media.test/files/rec-' + serial + '.wav', mime: 'audio/L16', channels: 2,
      deliverTo: null, tags: [], startedAt: '2025-01-06T10:00:00.000Z',
    };
    var o = overrides || {};
    var keys = keysOf(o);
    for (var i = 0; i < keys.length; i++) rec[keys[i]] = o[keys[i]];
    return rec;
  }
  function show(v) {
    try { var s = stringify(v); return s === undefined ? String(v) : s; } catch (_) { return String(v); }
  }
  function equal(a, b) {
    if (is(a, b)) return true;
    if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || isArray(a) !== isArray(b)) return false;
    var ka = keysOf(a), kb = keysOf(b);
    if (ka.length !== kb.length) return false;
    for (var i = 0; i < ka.length; i++) if (!hasOwn(b, ka[i]) || !equal(a[ka[i]], b[ka[i]])) return false;
    return true;
  }
  function matches(a, pattern) {
    if (pattern === null || typeof pattern !== 'object') return is(a, pattern);
    if (a === null || typeof a !== 'object') return false;
    if (isArray(pattern)) {
      if (!isArray(a) || a.length !== pattern.length) return false;
      for (var i = 0; i < pattern.length; i++) if (!matches(a[i], pattern[i])) return false;
      return true;
    }
    var keys = keysOf(pattern);
    for (var j = 0; j < keys.length; j++) if (!hasOwn(a, keys[j]) || !matches(a[keys[j]], pattern[keys[j]])) return false;
    return true;
  }
  function expect(actual) {
    function make(negate) {
      function check(pass, what, expected, hasExpected) {
        if (pass !== negate) return;
        throw new ErrorCtor('expected ' + show(actual) + (negate ? ' not ' : ' ') + what + (hasExpected ? ' ' + show(expected) : ''));
      }
      return {
        toBe: function (e) { check(is(actual, e), 'to be', e, true); },
        toEqual: function (e) { check(equal(actual, e), 'to equal', e, true); },
        toMatchObject: function (e) { check(matches(actual, e), 'to match', e, true); },
        toContain: function (e) { check(actual != null && typeof actual.indexOf === 'function' && actual.indexOf(e) >= 0, 'to contain', e, true); },
        toHaveLength: function (n) { check(actual != null && actual.length === n, 'to have length', n, true); },
        toBeTruthy: function () { check(!!actual, 'to be truthy'); },
        toBeFalsy: function () { check(!actual, 'to be falsy'); },
        toBeUndefined: function () { check(actual === undefined, 'to be undefined'); },
        toBeNull: function () { check(actual === null, 'to be null'); },
        toBeGreaterThan: function (n) { check(actual > n, 'to be greater than', n, true); },
        toBeLessThan: function (n) { check(actual < n, 'to be less than', n, true); },
        toThrow: function (text) {
          var threw = false, message = '';
          try { actual(); } catch (e) { threw = true; message = String(e && e.message); }
          check(threw && (text === undefined || message.indexOf(text) >= 0), 'to throw', text, text !== undefined);
        },
      };
    }
    var m = make(false);
    m.not = make(true);
    return m;
  }

  defineProperty(globalThis, 'capstanTest', {
    value: function (name, a, b) {
      var fn = typeof a === 'function' ? a : b;
      var options = typeof a === 'function' ? {} : a || {};
      if (typeof fn !== 'function') throw new TypeErrorCtor('capstanTest(name, [options], fn): fn must be a function');
      tests.push({ name: String(name), config: options.config, fn: fn });
    },
    writable: false, enumerable: false, configurable: false,
  });

  globalThis.__capstan_runTest = function (index) {
    current = 0;
    var test = tests[index];
    var t = freeze({
      emit: function (event, payload) { return testRequest('test.emit', { event: event, payload: payload }); },
      actions: function () { return request('test.actions', {}); },
      failNext: function (op, code, message) { request('test.failNext', { op: op, code: code, message: message }); },
      call: makeCall,
      recording: makeRecording,
      expect: expect,
    });
    var finish = function (ok, e) { host('test.done', stringify(ok ? { ok: true } : { ok: false, error: describe(e) })); };
    var result;
    try { result = test.fn(t); } catch (e) { finish(false, e); return; }
    promiseThen.call(PromiseCtor.resolve(result), function () { finish(true); }, function (e) { finish(false, e); });
  };
})();
`;
