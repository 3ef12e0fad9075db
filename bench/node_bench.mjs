// Node binding benchmark. Shapes match the Python bench: 5,000 trusted ingests one per call,
// verified receive (generic-hmac; stripe when the curated provider exists), 5,000 drained with a
// no-op handler, receiveAsync with 64 concurrent requests. Plus the Rust harness's shapes
// (bench/src/main.rs), through the binding, with its 1 KiB bodies:
// - ingest_concurrency: ingestAsync with 1, 2, 4, 8, 16 in flight on one handle (lanes pulling
//   from one counter), 10,000 distinct receipts per level, fresh file each; rate and per-call
//   latency p50/p99/max (µs).
// - drain_batching: 5,000 drained (no-op sync handler) with handlerBatch 1 and 16; ratio.
// - mixed: 4 ingestAsync lanes (10,000 in total) while runWorker handles them on the same handle;
//   ingest and handled rates, enqueue-to-handled lag p50/p99/max (ms).
// - peak_rss_kib (top level): process.resourceUsage().maxRSS.
// Prints JSON (and writes --out FILE).
// Use a release addon: `npx napi build --release` in bindings-node, or point
// NAPI_RS_NATIVE_LIBRARY_PATH at one.
import { createRequire } from 'node:module'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const require = createRequire(import.meta.url)
const here = path.dirname(new URL(import.meta.url).pathname)
const { open, providerCatalogue } = require(path.join(here, '..', 'bindings-node'))

const N = Number(process.env.KNOCKER_BENCH_N || 5000)
const outIdx = process.argv.indexOf('--out')
const outFile = outIdx > 0 ? process.argv[outIdx + 1] : null

// Each shape gets a file in its own temporary folder; the folders go when the process exits.
const tempDirs = []
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

function fresh() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'knocker-bench-'))
  tempDirs.push(dir)
  return path.join(dir, 'bench.sqlite')
}

function rate(n, ms) {
  return { n, seconds: +(ms / 1000).toFixed(3), per_second: Math.round(n / (ms / 1000)) }
}

// Nearest-rank percentile of an ascending array (the Rust harness's `summarize`).
function pct(sorted, p) {
  return sorted.length ? sorted[Math.round((sorted.length - 1) * p)] : 0
}

// p50/p99/max of `values` (any unit), keys suffixed with `unit`, rounded to `digits`.
function latency(values, unit, digits = 1) {
  const s = Float64Array.from(values).sort()
  const r = (v) => +v.toFixed(digits)
  return { [`p50${unit}`]: r(pct(s, 0.5)), [`p99${unit}`]: r(pct(s, 0.99)), [`max${unit}`]: r(s.length ? s[s.length - 1] : 0) }
}

// A 1 KiB JSON body (the Rust harness's BODY_BYTES), `fields` first.
const BODY_BYTES = 1024
function body(fields) {
  const head = JSON.stringify({ ...fields, data: '' }).slice(0, -2)
  return head + 'x'.repeat(Math.max(0, BODY_BYTES - head.length - 2)) + '"}'
}

// Stored events, all statuses.
function eventCount(k) {
  return Object.values(k.stats().byStatus).reduce((a, b) => a + b, 0)
}

// Runs `lanes` async loops that pull indices 0..n-1 from one shared counter.
async function lanes(lanes, n, fn) {
  let next = 0
  async function lane() {
    while (next < n) await fn(next++)
  }
  await Promise.all(Array.from({ length: lanes }, lane))
}

const results = {}

{
  const k = open(fresh())
  k.addEndpoint({ name: 'e', path: '/e' })
  const t0 = performance.now()
  for (let i = 0; i < N; i++) k.ingest({ endpoint: 'e', body: `{"id":"evt_${i}","type":"x"}`, providerEventId: `evt_${i}`, dedupeKey: `evt_${i}` })
  results.ingest_sequential = rate(N, performance.now() - t0)

  let handled = 0
  k.handle('e', () => { handled++ })
  const t1 = performance.now()
  const done = await k.drain()
  results.drain_noop = rate(done, performance.now() - t1)
  if (handled !== N) throw new Error(`drained ${handled}`)
  k.close()
}

{
  const k = open(fresh())
  const secret = 'bench-secret'
  k.addEndpoint({ name: 'h', path: '/h', provider: 'generic-hmac', secrets: [secret], providerOptions: { id_header: 'X-Id' } })
  const reqs = Array.from({ length: N }, (_, i) => {
    const body = JSON.stringify({ id: `evt_${i}`, type: 'invoice.paid', data: { amount: i } })
    const sig = 'sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex')
    return { endpoint: 'h', body, headers: { 'content-type': 'application/json', 'x-signature': sig, 'x-id': `d_${i}` } }
  })
  const t0 = performance.now()
  for (const r of reqs) if (k.receive(r).statusCode !== 204) throw new Error('not 204')
  results.receive_generic_hmac = rate(N, performance.now() - t0)

  const reqs2 = reqs.map((r) => ({ ...r, headers: { ...r.headers, 'x-id': `${r.headers['x-id']}-a` } }))
  const t1 = performance.now()
  let next = 0
  async function lane() {
    while (next < reqs2.length) {
      const r = await k.receiveAsync(reqs2[next++])
      if (r.statusCode !== 204) throw new Error('not 204')
    }
  }
  await Promise.all(Array.from({ length: 64 }, lane))
  results.receive_async_64_concurrent = rate(N, performance.now() - t1)
  k.close()
}

if (providerCatalogue().some((p) => p.name === 'stripe')) {
  const k = open(fresh())
  const secret = 'whsec_bench'
  k.addEndpoint({ name: 's', path: '/s', provider: 'stripe', secrets: [secret] })
  const reqs = Array.from({ length: N }, (_, i) => {
    const body = JSON.stringify({ id: `evt_${i}`, type: 'invoice.paid', object: 'event' })
    const t = Math.floor(Date.now() / 1000)
    const sig = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')
    return { endpoint: 's', body, headers: { 'stripe-signature': `t=${t},v1=${sig}` } }
  })
  const t0 = performance.now()
  for (const r of reqs) if (k.receive(r).statusCode !== 204) throw new Error('stripe not 204')
  results.receive_stripe = rate(N, performance.now() - t0)
  k.close()
} else {
  results.receive_stripe = { skipped: 'stripe provider not in this build' }
}

// ingestAsync with c requests in flight on one handle (Rust: `concurrent_ingest`).
{
  const total = 2 * N
  results.ingest_concurrency = []
  for (const c of [1, 2, 4, 8, 16]) {
    const k = open(fresh())
    k.addEndpoint({ name: 'e', path: '/e' })
    const inputs = Array.from({ length: total }, (_, i) => ({
      endpoint: 'e',
      body: body({ id: `evt_${i}`, type: 'invoice.paid' }),
      providerEventId: `c${c}-${i}`,
      dedupeKey: `c${c}-${i}`,
    }))
    const lat = new Float64Array(total)
    const t0 = performance.now()
    await lanes(c, total, async (i) => {
      const t = performance.now()
      const r = await k.ingestAsync(inputs[i])
      lat[i] = (performance.now() - t) * 1000
      if (r.statusCode !== 204) throw new Error(`ingest_concurrency c=${c}: status ${r.statusCode}`)
    })
    const ms = performance.now() - t0
    const stored = eventCount(k)
    if (stored !== total) throw new Error(`ingest_concurrency c=${c}: ${stored} events stored, expected ${total}`)
    results.ingest_concurrency.push({ in_flight: c, ...rate(total, ms), ...latency(lat, '_us') })
    k.close()
  }
}

// drain() with one commit per event vs handler batches of 16 (Rust: `drain_mode`).
{
  const out = {}
  for (const handlerBatch of [1, 16]) {
    const k = open(fresh(), { handlerBatch })
    k.addEndpoint({ name: 'e', path: '/e' })
    const b = body({ id: 'evt', type: 'invoice.paid' })
    for (let i = 0; i < N; i++) k.ingest({ endpoint: 'e', body: b, dedupeKey: `k${i}` })
    let handled = 0
    k.handle('e', () => { handled++ })
    const t0 = performance.now()
    const done = await k.drain()
    const ms = performance.now() - t0
    if (done !== N || handled !== N) throw new Error(`drain_batching handlerBatch=${handlerBatch}: drained ${done}, handled ${handled}, expected ${N}`)
    out[`handler_batch_${handlerBatch}`] = { handler_batch: handlerBatch, ...rate(N, ms) }
    k.close()
  }
  out.ratio = +(out.handler_batch_16.per_second / out.handler_batch_1.per_second).toFixed(2)
  results.drain_batching = out
}

// 4 ingestAsync lanes and one runWorker on one handle (Rust: `mixed_load`).
{
  const total = 2 * N
  const k = open(fresh())
  k.addEndpoint({ name: 'e', path: '/e' })
  const lags = []
  let lastHandled = 0
  let allHandled
  const handledAll = new Promise((resolve) => { allHandled = resolve })
  k.handle('e', (ev) => {
    const now = performance.now()
    lags.push(now - JSON.parse(ev.body.toString()).sent)
    if (lags.length === total) {
      lastHandled = now
      allHandled()
    }
  })
  const stop = new AbortController()
  const t0 = performance.now()
  const worker = k.runWorker({ workerId: 'bench-worker', signal: stop.signal })
  worker.catch(() => allHandled()) // a loop error must not leave the wait below hanging
  await lanes(4, total, async (i) => {
    const sent = performance.now()
    const r = await k.ingestAsync({ endpoint: 'e', body: body({ id: `evt_${i}`, type: 'invoice.paid', sent }), dedupeKey: `m${i}` })
    if (r.statusCode !== 204) throw new Error(`mixed: status ${r.statusCode}`)
  })
  const ingestMs = performance.now() - t0
  await handledAll
  stop.abort()
  await worker
  if (lags.length < total) throw new Error(`mixed: handled ${lags.length}, expected ${total}`)
  results.mixed = {
    producers: 4,
    workers: 1,
    ingest: rate(total, ingestMs),
    handled: rate(total, lastHandled - t0),
    lag_ms: (({ p50_ms, p99_ms, max_ms }) => ({ p50: p50_ms, p99: p99_ms, max: max_ms }))(latency(lags, '_ms', 2)),
  }
  k.close()
}

const report = {
  binding: 'node',
  node: process.version,
  machine: { platform: process.platform, arch: process.arch, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model },
  addon: process.env.NAPI_RS_NATIVE_LIBRARY_PATH || 'bindings-node (as built)',
  peak_rss_kib: process.resourceUsage().maxRSS,
  results,
}
const json = JSON.stringify(report, null, 2)
console.log(json)
if (outFile) {
  fs.mkdirSync(path.dirname(outFile), { recursive: true })
  fs.writeFileSync(outFile, json + '\n')
}
