'use strict'
// Actor-attributed operator audit rows, app SQL on Knocker's connection, batching options.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const knocker = require('..')

function tmpdb () {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'knocker-audit-')), 'k.sqlite')
}

test('operator mutations are audited with the handle actor; refused ones are not', async () => {
  const k = knocker.open(tmpdb(), { actor: 'ops:bob' })
  k.addEndpoint({ name: 'p', path: '/p' })
  const r = k.ingest({ endpoint: 'p', body: Buffer.from('{}') })
  await k.drain() // no handler: dead
  k.requeue(r.eventId)
  assert.throws(() => k.requeue(r.eventId), (e) => e instanceof knocker.KnockerError && e.code === 'invalid_state')
  k.ignore(r.eventId)
  const audits = k.listOperatorAudits()
  assert.deepEqual(audits.map((a) => [a.action, a.actor, a.ids]), [['ignore', 'ops:bob', [r.eventId]], ['requeue', 'ops:bob', [r.eventId]]])
  assert.equal(k.listOperatorAudits({ action: 'requeue' }).length, 1)
  assert.throws(() => k.listOperatorAudits({ limit: 0 }), (e) => e.code === 'invalid_argument')
  k.close()
})

test('executeBatch runs app SQL on Knocker\'s connection; handlerBatch options validate', async () => {
  const k = knocker.open(tmpdb(), { handlerBatch: 1, handlerBatchMaxMs: 1 })
  k.executeBatch("CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO orders (note) VALUES ('a')")
  k.addEndpoint({ name: 'p', path: '/p' })
  k.ingest({ endpoint: 'p', body: Buffer.from('{}') })
  k.handle('p', (event, tx) => { tx.execute('INSERT INTO orders (note) VALUES (?)', ['from handler']) })
  assert.equal(await k.drain(), 1)
  assert.throws(() => k.executeBatch('INSERT INTO no_such_table VALUES (1)'), (e) => e.code === 'storage')
  k.close()
  assert.throws(() => knocker.open(tmpdb(), { handlerBatch: 0 }), (e) => e.code === 'invalid_argument')
})
