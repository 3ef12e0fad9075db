// Node binding benchmark. Shapes match the Python bench: 5,000 trusted ingests one per call,
// verified receive (generic-hmac; stripe when the curated provider exists), 5,000 drained with a
// no-op handler, receiveAsync with 64 concurrent requests. Prints JSON (and writes --out FILE).
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

function fresh() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'knocker-bench-'))
  return path.join(dir, 'bench.sqlite')
}

function rate(n, ms) {
  return { n, seconds: +(ms / 1000).toFixed(3), per_second: Math.round(n / (ms / 1000)) }
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

const report = {
  binding: 'node',
  node: process.version,
  machine: { platform: process.platform, arch: process.arch, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model },
  addon: process.env.NAPI_RS_NATIVE_LIBRARY_PATH || 'bindings-node (as built)',
  results,
}
const json = JSON.stringify(report, null, 2)
console.log(json)
if (outFile) {
  fs.mkdirSync(path.dirname(outFile), { recursive: true })
  fs.writeFileSync(outFile, json + '\n')
}
