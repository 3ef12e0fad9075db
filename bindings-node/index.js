'use strict'
// The `knocker` package: an idiomatic facade over the native handle (native.js loads the
// compiled addon for this platform). Every semantic decision is knocker-core's; this file only
// converts arguments, maps errors to KnockerError, and runs JavaScript callbacks (handlers,
// app-local providers, key functions) on the JS thread, yielding to the event loop.

const native = require('./native.js')
const { setImmediate: immediate } = require('node:timers/promises')

const { NativeKnocker } = native

// Core log events: published on the diagnostics_channel `knocker` and passed to every open
// handle's `onLog` option. The native bridge is installed once per process.
const diagnosticsChannel = require('node:diagnostics_channel')
const logChannel = diagnosticsChannel.channel('knocker')
const logListeners = new Set()
native.installLogBridge((record) => {
  if (logChannel.hasSubscribers) logChannel.publish(record)
  for (const fn of logListeners) {
    try {
      fn(record)
    } catch {
      // a throwing listener must not break the others
    }
  }
})

/** Every error Knocker raises. `code` is stable (knocker-core's Error::code). */
class KnockerError extends Error {
  constructor(code, message, options) {
    super(message, options)
    this.name = 'KnockerError'
    this.code = code
  }
}

/** Throw from a handler: retry after `afterS` seconds instead of the backoff schedule. */
class Retry extends Error {
  constructor(afterS = 0, reason) {
    if (afterS !== null && typeof afterS === 'object') {
      reason = afterS.reason
      afterS = afterS.afterS ?? afterS.after ?? 0
    }
    super(reason || `retry requested in ${afterS}s`)
    this.name = 'Retry'
    this.afterS = Number(afterS)
  }
}

/** Throw from a handler: do not retry; the event goes `dead` now with this reason. */
class Discard extends Error {
  constructor(reason) {
    if (reason !== null && typeof reason === 'object') reason = reason.reason
    super(reason || 'discarded by handler')
    this.name = 'Discard'
  }
}

const NAPI_ARG_CODES = new Set([
  'InvalidArg', 'ObjectExpected', 'StringExpected', 'NameExpected', 'FunctionExpected', 'NumberExpected',
  'BooleanExpected', 'ArrayExpected', 'BigintExpected', 'DateExpected', 'ArrayBufferExpected',
])

function toKnockerError(e) {
  if (e instanceof KnockerError || !(e instanceof Error)) return e
  const m = /^\[([a-z_]+)\] ([\s\S]*)$/.exec(e.message)
  if (m) return new KnockerError(m[1], m[2])
  if (NAPI_ARG_CODES.has(e.code)) return new KnockerError('invalid_argument', `invalid argument: ${e.message}`)
  return e
}

function call(fn) {
  try {
    return fn()
  } catch (e) {
    throw toKnockerError(e)
  }
}

async function callAsync(p) {
  try {
    return await p
  } catch (e) {
    throw toKnockerError(e)
  }
}

function invalid(msg) {
  return new KnockerError('invalid_argument', `invalid argument: ${msg}`)
}

function toBuffer(body, what = 'body') {
  if (body === undefined || body === null) return Buffer.alloc(0)
  if (Buffer.isBuffer(body)) return body
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  throw invalid(`${what} must be a Buffer, Uint8Array, ArrayBuffer or string`)
}

/** Headers/query as [name, value] pairs: plain objects (array values repeat), Map, Headers,
 * URLSearchParams, arrays of pairs, or (query only) a query string. */
function toPairs(v, what) {
  if (v === undefined || v === null) return []
  if (typeof v === 'string') {
    if (what !== 'query') throw invalid(`${what} must be an object or [name, value] pairs`)
    v = new URLSearchParams(v.startsWith('?') ? v.slice(1) : v)
  }
  const out = []
  const push = (k, val) => {
    if (val === undefined || val === null) return
    if (Array.isArray(val)) for (const x of val) out.push([String(k), String(x)])
    else out.push([String(k), String(val)])
  }
  if (Array.isArray(v)) {
    for (const kv of v) {
      if (!Array.isArray(kv) || kv.length !== 2) throw invalid(`${what} pairs must be [name, value]`)
      push(kv[0], kv[1])
    }
  } else if (typeof v.entries === 'function' && typeof v.get === 'function') {
    for (const [k, val] of v.entries()) push(k, val)
  } else if (typeof v === 'object') {
    for (const k of Object.keys(v)) push(k, v[k])
  } else {
    throw invalid(`${what} must be an object or [name, value] pairs`)
  }
  return out
}

function optStr(v) {
  return v === undefined || v === null ? undefined : String(v)
}

function toReceipt(input, trusted) {
  if (!input || typeof input !== 'object') throw invalid('receive/ingest take one object: {endpoint, body, headers, ...}')
  if (typeof input.endpoint !== 'string') throw invalid('endpoint (string) is required')
  const r = {
    endpoint: input.endpoint,
    body: toBuffer(input.body),
    headers: toPairs(input.headers, 'headers'),
    query: toPairs(input.query, 'query'),
    method: optStr(input.method),
    url: optStr(input.url),
    eventType: optStr(input.eventType),
    providerEventId: optStr(input.providerEventId),
    providerDeliveryId: optStr(input.providerDeliveryId),
    dedupeKey: optStr(input.dedupeKey),
  }
  if (trusted) {
    // Trusted ingress: the caller verified. Default true; null means "not verified".
    r.signatureValid = input.signatureValid === undefined ? true : input.signatureValid === null ? undefined : Boolean(input.signatureValid)
    r.signatureError = optStr(input.signatureError)
  }
  return r
}

function handlerKey(endpoint, eventType) {
  return `${endpoint}\u0000${eventType ?? ''}`
}

/** What a handler's throw asks for. */
function handlerSignal(e) {
  if (e instanceof Retry) return { kind: 'retry', afterS: e.afterS, message: e.message }
  if (e instanceof Discard) return { kind: 'discard', message: e.message }
  if (e && typeof e === 'object' && e.name === 'Retry' && typeof e.afterS === 'number') {
    return { kind: 'retry', afterS: e.afterS, message: String(e.message) }
  }
  if (e && typeof e === 'object' && e.name === 'Discard') return { kind: 'discard', message: String(e.message) }
  const message = e instanceof Error ? `${e.name}: ${e.message}` : `thrown: ${String(e)}`
  return { kind: 'failed', message }
}

function isAsyncFunction(fn) {
  return fn && fn.constructor && fn.constructor.name === 'AsyncFunction'
}

function randomId() {
  return Math.random().toString(16).slice(2, 10)
}

/** The transaction a synchronous handler gets: its writes commit with `handled`. */
const tx = Object.freeze({
  query(sql, params = []) {
    return call(() => native.txQuery(sql, Array.isArray(params) ? params : [params]))
  },
  execute(sql, params = []) {
    return call(() => native.txExecute(sql, Array.isArray(params) ? params : [params]))
  },
})

function abortPromise(signal) {
  if (!signal) return null
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal && signal.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      if (signal) signal.removeEventListener('abort', done)
      resolve()
    }
    if (signal) signal.addEventListener('abort', done, { once: true })
  })
}

class Knocker {
  /**
   * Opens (creating if needed) a Knocker file.
   * @param {string} path
   * @param {object} [options] busyTimeoutMs, synchronous, visibilityTimeoutS, maxAttempts,
   *   backoffBaseS, backoffMaxS, claimBatch, maxReaders, maxBodyBytes, idlePollMs
   */
  constructor(path, options = {}) {
    if (typeof path !== 'string' || path === '') throw invalid('path must be a non-empty string')
    const { onLog, ...nativeOptions } = options ?? {}
    if (onLog !== undefined && typeof onLog !== 'function') throw invalid('onLog must be a function')
    this._n = call(() => new NativeKnocker(path, nativeOptions))
    this._onLog = onLog
    if (onLog) logListeners.add(onLog)
    this._handlers = new Map()
    this._asyncKeys = new Set()
    this._providers = new Map()
    this._keyFns = new Map()
    this._dispatch = (kind, a, b, c) => {
      if (kind === 'handle') return this._runHandler(a, b, c)
      if (kind === 'verify') return this._runProvider(a, b, c)
      if (kind === 'key') return this._runKey(a, b, c)
      if (kind === 'stop') return this._stopBatch ? this._stopBatch() === true : false
      return undefined
    }
  }

  get path() {
    return this._n.path
  }

  get closed() {
    return this._n.closed
  }

  /** Closes the file. Running workers stop at their next step. Idempotent. */
  close() {
    if (this._onLog) logListeners.delete(this._onLog)
    this._n.close()
    this._handlers.clear()
    this._asyncKeys.clear()
  }

  // --- endpoints and providers ---------------------------------------------------------------

  /** Adds or updates an endpoint: {name, path, provider, secrets, providerOptions, enabled,
   * verificationRequired, maxBodyBytes, maxAttempts, backoffBaseS, backoffMaxS, bodyHashDedupe,
   * dedupeKey, eventKey, deliveryKey, eventTypeKey}. Key options are functions (request) => string|null. */
  addEndpoint(cfg) {
    if (!cfg || typeof cfg !== 'object') throw invalid('addEndpoint takes one object: {name, path, provider, secrets, ...}')
    const fns = {}
    const keyFunctions = []
    for (const k of ['dedupeKey', 'eventKey', 'deliveryKey', 'eventTypeKey']) {
      if (cfg[k] === undefined || cfg[k] === null) continue
      if (typeof cfg[k] !== 'function') throw invalid(`${k} must be a function (request) => string | null`)
      fns[k] = cfg[k]
      keyFunctions.push(k)
    }
    let secrets = cfg.secrets
    if (secrets !== undefined && secrets !== null && !Array.isArray(secrets)) secrets = [secrets]
    const e = {
      name: cfg.name,
      path: cfg.path ?? (typeof cfg.name === 'string' ? `/webhooks/${cfg.name}` : undefined),
      provider: optStr(cfg.provider),
      secrets: secrets ? secrets.map((s) => toBuffer(s, 'secret')) : undefined,
      providerOptions: cfg.providerOptions ?? undefined,
      enabled: cfg.enabled,
      verificationRequired: cfg.verificationRequired,
      maxBodyBytes: cfg.maxBodyBytes,
      maxAttempts: cfg.maxAttempts,
      backoffBaseS: cfg.backoffBaseS,
      backoffMaxS: cfg.backoffMaxS,
      bodyHashDedupe: cfg.bodyHashDedupe,
      keyFunctions,
    }
    if (typeof e.name !== 'string') throw invalid('endpoint name (string) is required')
    call(() => this._n.addEndpoint(e))
    this._keyFns.set(cfg.name, fns)
  }

  /** Registers an app-local provider: {name, version, verify(request, {secrets, options, nowS}),
   * requiresSecrets = true}. verify returns {valid, signatureError, providerEventId,
   * providerDeliveryId, eventType, idempotencyKey, secretIndex}; a throw is an invalid delivery. */
  registerProvider(p) {
    if (!p || typeof p !== 'object' || typeof p.verify !== 'function') {
      throw invalid('registerProvider takes {name, version, verify(request, ctx)}')
    }
    const name = String(p.name)
    call(() => this._n.registerProvider(name, String(p.version ?? ''), p.requiresSecrets !== false))
    this._providers.set(name, p)
  }

  /** `{name: version}` of the curated providers. */
  providerVersions() {
    return this._n.providerVersions()
  }

  /** Names of the endpoints stored in the file. */
  endpointNames() {
    return call(() => this._n.endpointNames())
  }

  // --- ingress -------------------------------------------------------------------------------

  /** Verifies and stores one receipt, synchronously. Answer with `statusCode` (and
   * `responseBody` when set). */
  receive(input) {
    const r = toReceipt(input, false)
    return call(() => this._n.receive(r, this._dispatch))
  }

  /** Like receive, with the SQLite work off the JS thread. Endpoints with an app-local provider
   * or key functions verify on the JS thread (those functions must run there). */
  receiveAsync(input) {
    try {
      const r = toReceipt(input, false)
      if (this._n.endpointCallsJs(r.endpoint)) return Promise.resolve(call(() => this._n.receive(r, this._dispatch)))
      return callAsync(this._n.receiveManyAsync([r], false)).then((a) => a[0])
    } catch (e) {
      return Promise.reject(toKnockerError(e))
    }
  }

  /** Stores a receipt with the caller's verification outcome: `signatureValid` true (default),
   * false (with `signatureError`; stored as an orphan) or null (not verified). */
  ingest(input) {
    const r = toReceipt(input, true)
    return call(() => this._n.ingest(r, this._dispatch))
  }

  /** ingest with the SQLite work off the JS thread. */
  ingestAsync(input) {
    try {
      const r = toReceipt(input, true)
      if (this._n.endpointCallsJs(r.endpoint)) return Promise.resolve(call(() => this._n.ingest(r, this._dispatch)))
      return callAsync(this._n.receiveManyAsync([r], true)).then((a) => a[0])
    } catch (e) {
      return Promise.reject(toKnockerError(e))
    }
  }

  // --- reads ---------------------------------------------------------------------------------

  getEvent(id) {
    return call(() => this._n.getEvent(id))
  }

  /** {status, endpoint, eventType, since, until, beforeId, limit = 100}; newest first. */
  listEvents(filter = {}) {
    return call(() => this._n.listEvents(filter ?? {}))
  }

  getDelivery(id) {
    return call(() => this._n.getDelivery(id))
  }

  /** {eventId, endpoint, signatureValid, orphaned, since, limit = 100}; newest first. */
  listDeliveries(filter = {}) {
    return call(() => this._n.listDeliveries(filter ?? {}))
  }

  listAttempts(eventId) {
    return call(() => this._n.listAttempts(eventId))
  }

  /** Counts by status and endpoint, claimable, oldestClaimableAgeS, dead. */
  stats() {
    return call(() => this._n.stats())
  }

  /** Counters and histograms of this handle (process-local) plus the file's gauges (`stats`). */
  metrics() {
    return call(() => this._n.metrics())
  }

  /** The Prometheus text exposition (0.0.4) of `metrics()`; serve it as
   * `text/plain; version=0.0.4` from `/metrics`. */
  prometheusText() {
    return call(() => this._n.prometheusText())
  }

  // --- operator actions ----------------------------------------------------------------------

  ignore(eventId) {
    call(() => this._n.ignore(eventId))
  }

  replay(eventId) {
    call(() => this._n.replay(eventId))
  }

  requeue(eventId) {
    call(() => this._n.requeue(eventId))
  }

  replayDelivery(deliveryId) {
    call(() => this._n.replayDelivery(deliveryId))
  }

  // --- retention -----------------------------------------------------------------------------

  /** {statuses, olderThan, limit = 100, dryRun = false} */
  pruneEvents(args) {
    return call(() => this._n.pruneEvents(args ?? {}))
  }

  /** {olderThan, limit = 100, dryRun = false} */
  pruneOrphanDeliveries(args) {
    return call(() => this._n.pruneOrphanDeliveries(args ?? {}))
  }

  /** {kind, since, limit = 50} */
  listPruneAudits(filter = {}) {
    return call(() => this._n.listPruneAudits(filter ?? {}))
  }

  /** Operator audit rows (who did what, when, to which ids), newest first. {action, since, limit = 50} */
  listOperatorAudits(filter = {}) {
    return call(() => this._n.listOperatorAudits(filter ?? {}))
  }

  /** Runs app SQL (e.g. your own schema) on Knocker's writer connection in one transaction: the
   * safe way to touch Knocker's file from this process outside handlers. */
  executeBatch(sql) {
    return call(() => this._n.executeBatch(sql))
  }

  /** One retention pass now (skipped, `ran: false`, when another process holds the lease). */
  runRetentionPass(policy) {
    try {
      return callAsync(this._n.retentionPassAsync(policy ?? {}, this._retentionOwner()))
    } catch (e) {
      return Promise.reject(toKnockerError(e))
    }
  }

  /** Repeats retention passes every `policy.intervalS` seconds until `signal` aborts; resolves
   * with the number of passes that ran. A pass error rejects (after `onError`). */
  async runRetention(policy, { signal, onError } = {}) {
    policy = policy ?? {}
    call(() => this._n.validateRetention(policy))
    const interval = (policy.intervalS ?? 3600) * 1000
    let passes = 0
    while (!(signal && signal.aborted) && !this.closed) {
      try {
        const p = await callAsync(this._n.retentionPassAsync(policy, this._retentionOwner()))
        if (p.ran) passes++
      } catch (e) {
        if (this.closed && e.code === 'closed') break
        if (onError) onError(e)
        throw e
      }
      await sleep(interval, signal)
    }
    return passes
  }

  _retentionOwner() {
    if (!this._owner) this._owner = `retention-node-${process.pid}-${randomId()}`
    return this._owner
  }

  // --- handlers and workers ------------------------------------------------------------------

  /**
   * Registers a handler. `handle({endpoint, eventType}, fn)`, `handle(endpoint, fn)` or
   * `handle(endpoint, eventType, fn)`; eventType null/absent = every type of that endpoint without
   * a more specific handler.
   * - A synchronous function `(event, tx) => void` runs inside the handler transaction; writes
   *   through `tx.query`/`tx.execute` commit with `handled` or roll back when it throws.
   * - An `async` function (or `{async: true}`) `(event) => Promise` gets no `tx`; it runs outside
   *   any transaction and its outcome is committed in its own transaction after it settles.
   * Throw `Retry`/`Discard` to change what happens next.
   */
  handle(keyOrEndpoint, a, b) {
    let endpoint, eventType, fn, isAsync
    if (typeof keyOrEndpoint === 'string') {
      endpoint = keyOrEndpoint
      if (typeof a === 'function') fn = a
      else {
        eventType = a
        fn = b
      }
    } else if (keyOrEndpoint && typeof keyOrEndpoint === 'object') {
      endpoint = keyOrEndpoint.endpoint
      eventType = keyOrEndpoint.eventType
      isAsync = keyOrEndpoint.async
      fn = a
    }
    if (typeof endpoint !== 'string') throw invalid('handle needs an endpoint name')
    if (typeof fn !== 'function') throw invalid('handle needs a handler function')
    eventType = eventType ?? null
    if (isAsync === undefined) isAsync = isAsyncFunction(fn)
    const key = handlerKey(endpoint, eventType)
    this._handlers.set(key, fn)
    if (isAsync) this._asyncKeys.add(key)
    else this._asyncKeys.delete(key)
    this._n.handle(endpoint, eventType)
    return fn
  }

  _runHandler(endpoint, eventType, event) {
    const fn = this._handlers.get(handlerKey(endpoint, eventType))
    if (!fn) return { kind: 'failed', message: `handler for endpoint=${endpoint} eventType=${eventType} is gone` }
    try {
      const r = fn(event, tx)
      if (r && typeof r.then === 'function') {
        r.then(null, () => {})
        return {
          kind: 'failed',
          message:
            'handler returned a Promise inside its transaction; declare it `async` or register it with handle({endpoint, eventType, async: true}, fn) so it runs outside the transaction',
        }
      }
      return { kind: 'ok' }
    } catch (e) {
      return handlerSignal(e)
    }
  }

  _runProvider(name, request, ctx) {
    const p = this._providers.get(name)
    try {
      if (!p) throw new Error(`provider ${name} is not registered in this process`)
      const r = p.verify(request, ctx)
      if (r && typeof r.then === 'function') {
        r.then(null, () => {})
        throw new Error('verify returned a Promise; provider verification must be synchronous')
      }
      if (!r || typeof r !== 'object') throw new Error('verify must return an object {valid, ...}')
      return {
        valid: r.valid === true,
        signatureError: optStr(r.signatureError),
        errorCode: optStr(r.errorCode),
        secretIndex: typeof r.secretIndex === 'number' ? r.secretIndex : undefined,
        providerEventId: optStr(r.providerEventId),
        providerDeliveryId: optStr(r.providerDeliveryId),
        eventType: optStr(r.eventType),
        idempotencyKey: optStr(r.idempotencyKey),
      }
    } catch (e) {
      return {
        valid: false,
        errorCode: 'provider_error',
        signatureError: `provider error: ${e instanceof Error ? e.message : String(e)}`,
      }
    }
  }

  _runKey(endpoint, which, request) {
    const fns = this._keyFns.get(endpoint)
    const fn = fns && fns[which]
    if (!fn) return null
    try {
      const v = fn(request)
      return v === undefined || v === null ? null : String(v)
    } catch {
      return null
    }
  }

  async _processOne(claim, workerId) {
    if (this._asyncKeys.size) {
      const ev = call(() => this._n.claimedEvent(claim))
      if (!ev) return 'skipped'
      const key = this._n.resolveHandlerKey(ev.endpoint, ev.eventType ?? null)
      const hk = key && handlerKey(key[0], key[1])
      if (hk && this._asyncKeys.has(hk)) {
        const fn = this._handlers.get(hk)
        const started = Date.now()
        let res
        try {
          await fn(ev)
          res = { kind: 'ok' }
        } catch (e) {
          res = handlerSignal(e)
        }
        const o = await callAsync(this._n.completeAsync(claim, workerId, started, res))
        return o.outcome
      }
    }
    return call(() => this._n.process(claim, workerId, this._dispatch)).outcome
  }

  /** Runs claims in order on the JS thread, yielding to the event loop every few ms. On stop,
   * releases the unstarted ones. Returns how many were processed (not skipped). */
  async _runClaims(claims, workerId, signal) {
    let done = 0
    let lastYield = performance.now()
    for (let i = 0; i < claims.length; i++) {
      if ((signal && signal.aborted) || this.closed) {
        if (!this.closed) call(() => this._n.release(claims.slice(i)))
        return { done, stopped: true }
      }
      // With only sync handlers, run several claims per transaction (core's handler batches);
      // an async handler needs the per-event path (no transaction across its await).
      if (this._asyncKeys.size === 0) {
        let outcomes
        // Checked by core between handlers of the batch: stop early on abort or close.
        this._stopBatch = () => Boolean((signal && signal.aborted) || this.closed)
        try {
          outcomes = call(() => this._n.processBatch(claims.slice(i, i + this._n.handlerBatch), workerId, this._dispatch))
        } catch (e) {
          if (!this.closed) {
            try {
              this._n.release(claims.slice(i))
            } catch {}
          }
          throw e
        }
        this._stopBatch = null
        done += outcomes.filter((o) => o.outcome !== 'skipped').length
        i += Math.max(outcomes.length, 1) - 1
        if (performance.now() - lastYield > 4) {
          await immediate()
          lastYield = performance.now()
        }
        continue
      }
      let outcome
      try {
        outcome = await this._processOne(claims[i], workerId)
      } catch (e) {
        if (!this.closed) {
          try {
            this._n.release(claims.slice(i + 1))
          } catch {}
        }
        throw e
      }
      if (outcome !== 'skipped') done++
      if (performance.now() - lastYield > 4) {
        await immediate()
        lastYield = performance.now()
      }
    }
    return { done, stopped: false }
  }

  /** Processes until nothing is claimable (or `maxEvents` were processed); resolves with the count.
   * Yields to the event loop between batches and every few ms within one. */
  async drain({ maxEvents } = {}) {
    const workerId = `knocker-drain-${randomId()}`
    const batch = this._n.claimBatch
    let done = 0
    for (;;) {
      const want = maxEvents === undefined || maxEvents === null ? batch : Math.min(batch, maxEvents - done)
      if (want <= 0) break
      const claims = await callAsync(this._n.claimAsync(workerId, want))
      if (claims.length === 0) break
      done += (await this._runClaims(claims, workerId, null)).done
    }
    return done
  }

  /**
   * Runs a worker loop until `signal` aborts or the handle closes: claims batches off the JS
   * thread, runs handlers on it, waits for work off it. On abort it finishes the in-flight
   * handler, releases unstarted claims, and resolves. A loop error (not a handler failure) is
   * recorded in workerStates(), passed to `onError`, and rejects the promise.
   */
  async runWorker({ workerId, signal, idlePollMs, onError, claimBatch } = {}) {
    const id = workerId ?? `knocker-node-${randomId()}`
    const poll = idlePollMs ?? this._n.idlePollMs
    const batch = claimBatch ?? this._n.claimBatch
    const aborted = abortPromise(signal)
    this._n.registerWorker(id)
    try {
      while (!(signal && signal.aborted) && !this.closed) {
        const generation = this._n.notifyGeneration()
        const claims = await callAsync(this._n.claimAsync(id, batch))
        if (claims.length === 0) {
          const wait = callAsync(this._n.waitForWorkAsync(generation, poll))
          await (aborted ? Promise.race([wait, aborted]) : wait)
          continue
        }
        await this._runClaims(claims, id, signal)
      }
    } catch (e) {
      const err = toKnockerError(e)
      if (this.closed && err && err.code === 'closed') return
      if (!this.closed) this._n.recordWorkerError(id, String(err && err.message))
      if (onError) onError(err)
      throw err
    } finally {
      if (!this.closed) this._n.finishWorker(id)
    }
  }

  /** Local, non-durable snapshots of this handle's worker loops. */
  workerStates() {
    return this._n.workerStates()
  }
}

/** Opens (creating if needed) a Knocker file. */
function open(path, options) {
  return new Knocker(path, options)
}

module.exports = {
  open,
  Knocker,
  KnockerError,
  Retry,
  Discard,
  providerCatalogue: () => native.providerCatalogue(),
  /** Test helper: a curated provider's verdict at an injected time (conformance vectors). */
  verifyVector: (v) =>
    call(() =>
      native.verifyVector(
        v.provider,
        v.method ?? 'POST',
        v.url ?? undefined,
        toPairs(v.headers, 'headers'),
        toPairs(v.query, 'query'),
        toBuffer(v.body),
        (v.secrets ?? []).map((s) => toBuffer(s, 'secret')),
        v.options ?? undefined,
        v.now,
      ),
    ),
}
