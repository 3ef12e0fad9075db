'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const diagnosticsChannel = require('node:diagnostics_channel')
const { open, Discard } = require('..')
const { tmpDb, sign } = require('./helpers')

const SECRET = 'whsec_obs'
const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

function setup(opts = {}) {
  const k = open(tmpDb(), { backoffBaseS: 0, backoffMaxS: 0, maxAttempts: 3, ...opts })
  k.addEndpoint({ name: 'acme', path: '/acme', provider: 'generic-hmac', secrets: [SECRET], providerOptions: { header: 'X-Signature', id_header: 'X-Id' } })
  return k
}

function signed(body, id, secret = SECRET) {
  return { endpoint: 'acme', body, headers: { 'X-Signature': sign(secret, body), 'X-Id': id } }
}

for (const kind of ['sync', 'async']) {
  test(`exact counters after scripted traffic (${kind} handler)`, async () => {
    const k = setup()
    const fail = (e) => {
      if (e.body.toString() === 'fail') throw new Error('nope')
    }
    k.handle('acme', kind === 'sync' ? (e) => fail(e) : async (e) => fail(e))
    for (const [body, id] of [['ok1', '1'], ['ok2', '2'], ['fail', '3'], ['ok1', '1']]) {
      assert.equal(k.receive(signed(body, id)).statusCode, 204)
    }
    assert.equal(k.receive(signed('x', '9', 'wrong')).statusCode, 401)
    assert.equal(k.receive({ endpoint: 'nope', body: 'x' }).statusCode, 404)
    assert.equal(await k.drain(), 5)
    const m = k.metrics()
    const e = m.endpoints.acme
    assert.deepEqual(e.receipts, { created: 3, duplicate: 1, invalid: 1, too_large: 0, disabled: 0, handshake: 0 })
    assert.deepEqual(e.invalidByErrorCode, { signature_mismatch: 1 })
    assert.deepEqual(e.handlerAttempts, { handled: 2, failed: 2, dead: 1, skipped: 0 })
    assert.equal(e.retries, 2)
    assert.equal(e.deadLetters, 1)
    assert.equal(m.unknownEndpointReceipts, 1)
    assert.equal(m.receiveDuration.count, 6)
    assert.equal(m.handlerDuration.count, 5)
    assert.equal(m.enqueueToHandled.count, 2)
    assert.equal(m.stats.dead, 1)
    const text = k.prometheusText()
    assert.match(text, /^knocker_receipts_total\{endpoint="acme",outcome="created"\} 3$/m)
    assert.match(text, /^knocker_dead_letters_total\{endpoint="acme"\} 1$/m)
    assert.match(text, /^# TYPE knocker_receive_duration_seconds histogram$/m)
    assert.match(text, /^knocker_receive_duration_seconds_count 6$/m)
    k.close()
  })
}

test('core log events reach onLog and the diagnostics_channel "knocker"', async () => {
  const fromOption = []
  const fromChannel = []
  const onMessage = (rec) => fromChannel.push(rec)
  diagnosticsChannel.subscribe('knocker', onMessage)
  try {
    const k = setup({ onLog: (rec) => fromOption.push(rec) })
    k.addEndpoint({ name: 'p', path: '/p' })
    k.handle('p', () => {
      throw new Discard('poison')
    })
    const r = k.ingest({ endpoint: 'p', body: 'x', dedupeKey: 'k' })
    await k.drain()
    // records arrive asynchronously on the JS thread
    for (let i = 0; i < 50 && fromOption.length === 0; i++) await new Promise((res) => setTimeout(res, 10))
    const dead = fromOption.filter((x) => x.message === 'event dead-lettered')
    assert.equal(dead.length, 1, JSON.stringify(fromOption))
    assert.equal(dead[0].level, 'WARN')
    assert.equal(dead[0].fields.event_id, String(r.eventId))
    assert.equal(dead[0].fields.error, 'poison')
    assert.ok(fromChannel.some((x) => x.message === 'event dead-lettered'))
    k.close()
    assert.throws(() => open(tmpDb(), { onLog: 5 }), /onLog must be a function/)
  } finally {
    diagnosticsChannel.unsubscribe('knocker', onMessage)
  }
})

test('traceparent is stored and the handler sees it', async () => {
  const k = setup()
  k.addEndpoint({ name: 'p', path: '/p' })
  const seen = []
  k.handle('p', (e) => { seen.push(e.traceparent) })
  const r = k.ingest({ endpoint: 'p', body: 'x', headers: { traceparent: TP } })
  assert.equal(k.getDelivery(r.deliveryId).traceparent, TP)
  assert.equal(k.getEvent(r.eventId).traceparent, TP)
  await k.drain()
  assert.deepEqual(seen, [TP])
  k.close()
})
