'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { open, Retry, Discard, KnockerError } = require('..')
const { tmpDb } = require('./helpers')

function setup(opts = {}) {
  const k = open(tmpDb(), { backoffBaseS: 0, backoffMaxS: 0, ...opts })
  k.addEndpoint({ name: 'shop', path: '/shop' })
  return k
}

test('handler tx: writes commit with handled; a throw rolls them back and schedules a retry', async () => {
  const k = setup({ maxAttempts: 3 })
  k.receive({ endpoint: 'shop', body: '{"n":1}', eventType: 'order.paid' })
  let calls = 0
  k.handle({ endpoint: 'shop', eventType: 'order.paid' }, (ev, tx) => {
    calls++
    tx.execute('CREATE TABLE IF NOT EXISTS orders (event_id INTEGER, body BLOB, note TEXT, amount REAL)')
    tx.execute('INSERT INTO orders VALUES (?, ?, ?, ?)', [ev.id, ev.body, `try ${calls}`, 1.5])
    assert.equal(ev.status, 'processing')
    assert.equal(ev.attemptCount, calls)
    if (calls < 2) throw new Error('downstream down')
  })
  assert.equal(await k.drain({ maxEvents: 1 }), 1)
  const ev1 = k.getEvent(1)
  assert.equal(ev1.status, 'failed')
  assert.match(ev1.lastError, /downstream down/)
  assert.equal(await k.drain(), 1)
  const ev = k.getEvent(1)
  assert.equal(ev.status, 'handled')
  assert.equal(typeof ev.handledAt, 'number')
  let rows
  k.handle('probe', (e, tx) => { rows = tx.query('SELECT * FROM orders') })
  k.addEndpoint({ name: 'probe', path: '/probe' })
  k.receive({ endpoint: 'probe', body: '' })
  await k.drain()
  assert.equal(rows.length, 1, 'the failed attempt rolled back')
  assert.deepEqual(rows[0], { event_id: 1, body: Buffer.from('{"n":1}'), note: 'try 2', amount: 1.5 })
  const attempts = k.listAttempts(1)
  assert.deepEqual(attempts.map((a) => a.outcome), ['failed', 'handled'])
  assert.ok(attempts.every((a) => a.workerId && a.finishedAtMs >= a.startedAtMs))
  k.close()
})

test('attempts exhausted -> dead; no handler -> dead with a clear error', async () => {
  const k = setup({ maxAttempts: 2 })
  k.addEndpoint({ name: 'nohandler', path: '/nh' })
  const a = k.receive({ endpoint: 'shop', body: 'x' })
  const b = k.receive({ endpoint: 'nohandler', body: 'y' })
  k.handle('shop', () => { throw new TypeError('bad data') })
  await k.drain()
  await k.drain()
  const ev = k.getEvent(a.eventId)
  assert.equal(ev.status, 'dead')
  assert.equal(ev.attemptCount, 2)
  assert.match(ev.lastError, /TypeError: bad data/)
  const nh = k.getEvent(b.eventId)
  assert.equal(nh.status, 'dead')
  assert.match(nh.lastError, /no handler/)
  assert.equal(k.stats().dead, 2)
  // operator recovery
  k.handle('shop', () => {})
  k.requeue(a.eventId)
  await k.drain()
  assert.equal(k.getEvent(a.eventId).status, 'handled')
  k.close()
})

test('Retry(afterS) and Discard signals', async () => {
  const k = setup()
  const a = k.receive({ endpoint: 'shop', body: 'a', eventType: 'retry' })
  const b = k.receive({ endpoint: 'shop', body: 'b', eventType: 'discard' })
  k.handle('shop', 'retry', () => { throw new Retry(3600, 'rate limited') })
  k.handle('shop', 'discard', () => { throw new Discard('not for us') })
  const before = Date.now()
  await k.drain()
  const ea = k.getEvent(a.eventId)
  assert.equal(ea.status, 'failed')
  assert.equal(ea.lastError, 'rate limited')
  assert.ok(ea.runAtMs >= before + 3500 * 1000)
  const eb = k.getEvent(b.eventId)
  assert.equal(eb.status, 'dead')
  assert.equal(eb.attemptCount, 1)
  assert.equal(eb.lastError, 'not for us')
  k.close()
})

test('type-specific handler wins over the endpoint-wide one; last registration wins', async () => {
  const k = setup()
  k.receive({ endpoint: 'shop', body: '1', eventType: 'a' })
  k.receive({ endpoint: 'shop', body: '2', eventType: 'b' })
  const seen = []
  k.handle('shop', () => seen.push('wide-old'))
  k.handle('shop', (ev) => seen.push(`wide:${ev.eventType}`))
  k.handle('shop', 'a', (ev) => seen.push(`a:${ev.eventType}`))
  await k.drain()
  assert.deepEqual(seen.sort(), ['a:a', 'wide:b'])
  k.close()
})

test('a sync handler that returns a Promise fails clearly; tx outside its call is refused', async () => {
  const k = setup({ maxAttempts: 1 })
  k.receive({ endpoint: 'shop', body: '1' })
  let leaked
  k.handle({ endpoint: 'shop', async: false }, (ev, tx) => { leaked = tx; return Promise.resolve() })
  await k.drain()
  assert.match(k.getEvent(1).lastError, /returned a Promise/)
  assert.throws(() => leaked.query('SELECT 1'), (e) => e instanceof KnockerError && e.code === 'invalid_state')
  k.close()
})

test('async handlers run outside the transaction; outcome committed after the promise settles', async () => {
  const k = setup({ maxAttempts: 5, backoffBaseS: 60, backoffMaxS: 60 })
  k.addEndpoint({ name: 'sync', path: '/sync' })
  const a = k.receive({ endpoint: 'shop', body: 'ok', eventType: 'ok' })
  const b = k.receive({ endpoint: 'shop', body: 'fail', eventType: 'fail' })
  const c = k.receive({ endpoint: 'shop', body: 'retry', eventType: 'retry' })
  const d = k.receive({ endpoint: 'sync', body: 'sync' })
  const args = []
  k.handle({ endpoint: 'shop', eventType: 'ok' }, async (ev, tx) => {
    args.push(tx)
    await new Promise((r) => setTimeout(r, 5))
    // the write lock is not held across the await: ingress works meanwhile
    k.receive({ endpoint: 'sync', body: 'during' })
  })
  k.handle({ endpoint: 'shop', eventType: 'fail' }, async () => { throw new Error('async boom') })
  k.handle({ endpoint: 'shop', eventType: 'retry' }, async () => { throw new Retry(60, 'later') })
  k.handle('sync', (ev, tx) => { tx.query('SELECT 1') })
  assert.equal(await k.drain(), 5)
  assert.deepEqual(args, [undefined], 'async handlers get no tx')
  assert.equal(k.getEvent(a.eventId).status, 'handled')
  assert.equal(k.getEvent(b.eventId).status, 'failed')
  assert.match(k.getEvent(b.eventId).lastError, /async boom/)
  assert.equal(k.getEvent(c.eventId).lastError, 'later')
  assert.equal(k.getEvent(d.eventId).status, 'handled')
  assert.deepEqual(k.listAttempts(a.eventId).map((x) => x.outcome), ['handled'])
  k.close()
})

test('runWorker: processes as work arrives, stops on AbortSignal, releases unstarted claims', async () => {
  const k = setup({ claimBatch: 8 })
  const seen = []
  const ac = new AbortController()
  k.handle('shop', (ev) => {
    seen.push(ev.id)
    if (seen.length === 3) ac.abort()
  })
  for (let i = 0; i < 10; i++) k.receive({ endpoint: 'shop', body: `${i}` })
  const done = k.runWorker({ workerId: 'w1', signal: ac.signal, idlePollMs: 50 })
  const states = k.workerStates()
  assert.equal(states[0].workerId, 'w1')
  assert.equal(states[0].running, true)
  await done
  assert.equal(seen.length, 3, 'finished the in-flight handler and stopped')
  const st = k.stats()
  assert.equal(st.byStatus.handled, 3)
  assert.equal(st.byStatus.received, 7, 'unstarted claims were released')
  assert.equal(st.processing, 0)
  const w = k.workerStates().find((s) => s.workerId === 'w1')
  assert.equal(w.running, false)
  assert.equal(w.processed, 3)
  // idle worker wakes on a local commit and stops promptly on abort
  const ac2 = new AbortController()
  const got = []
  k.handle('shop', (ev) => got.push(ev.id))
  const w2 = k.runWorker({ signal: ac2.signal, idlePollMs: 5000 })
  await new Promise((r) => setTimeout(r, 50))
  const t0 = Date.now()
  k.receive({ endpoint: 'shop', body: 'late' })
  while (got.length < 8 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 5))
  assert.equal(got.length, 8)
  const t1 = Date.now()
  ac2.abort()
  await w2
  assert.ok(Date.now() - t1 < 1000, 'abort does not wait for the idle poll')
  k.close()
})

test('runWorker: a loop error is recorded, passed to onError, and rejects; close ends it quietly', async () => {
  const k = setup()
  const errors = []
  const p = k.runWorker({ workerId: 'werr', onError: (e) => errors.push(e), claimBatch: 5000 })
  await assert.rejects(p, (e) => e instanceof KnockerError && e.code === 'invalid_argument')
  assert.equal(errors.length, 1)
  const s = k.workerStates().find((x) => x.workerId === 'werr')
  assert.match(s.lastError, /claim batch/)
  assert.equal(typeof s.lastErrorAt, 'number')
  const ac = new AbortController()
  const p2 = k.runWorker({ signal: ac.signal, idlePollMs: 20 })
  await new Promise((r) => setTimeout(r, 30))
  k.close()
  await p2
})

test('the event loop keeps ticking (10 ms interval) during a drain of 10k events', async () => {
  const k = setup()
  const n = 10000
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => k.ingestAsync({ endpoint: 'shop', body: `${i + j}` })))
  }
  let handled = 0
  k.handle('shop', () => { handled++ })
  let ticks = 0
  let maxGap = 0
  let last = performance.now()
  const iv = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    ticks++
  }, 10)
  const t0 = performance.now()
  const done = await k.drain()
  const elapsed = performance.now() - t0
  clearInterval(iv)
  console.log(`# drain of ${n}: ${elapsed.toFixed(0)} ms, ${ticks} ticks, max gap ${maxGap.toFixed(1)} ms`)
  assert.equal(done, n)
  assert.equal(handled, n)
  const expected = elapsed / 10
  assert.ok(ticks >= expected * 0.5, `ticks ${ticks} over ${elapsed.toFixed(0)} ms`)
  assert.ok(maxGap < 250, `max gap between ticks ${maxGap.toFixed(1)} ms`)
  k.close()
})
