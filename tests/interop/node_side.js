// Node half of the interop test: `node node_side.js receive DB` stores signed webhooks;
// `node node_side.js drain DB` handles whatever is claimable with a handler that writes a
// business row through tx. Prints one JSON line with what it did.
'use strict'
const crypto = require('node:crypto')
const path = require('node:path')
const knocker = require(path.join(__dirname, '..', '..', 'bindings-node'))

const [mode, db] = process.argv.slice(2)
const SECRET = 'interop-secret'

async function main () {
  const k = knocker.open(db, { backoffBaseS: 0 })
  k.addEndpoint({
    name: 'shop',
    path: '/hooks/shop',
    provider: 'generic-hmac',
    secrets: [SECRET],
    providerOptions: { header: 'X-Signature', id_header: 'X-Delivery' }
  })
  if (mode === 'receive') {
    const results = []
    for (const [id, order] of [['n-1', 'from-node-1'], ['n-2', 'from-node-2'], ['n-1', 'from-node-1']]) {
      const body = Buffer.from(JSON.stringify({ order }))
      const sig = crypto.createHmac('sha256', SECRET).update(body).digest('hex')
      const r = k.receive({ endpoint: 'shop', body, headers: { 'X-Signature': `sha256=${sig}`, 'X-Delivery': id } })
      results.push({ statusCode: r.statusCode, eventId: r.eventId, duplicate: r.duplicate })
    }
    console.log(JSON.stringify(results))
  } else if (mode === 'drain') {
    k.handle('shop', (event, tx) => {
      tx.execute('CREATE TABLE IF NOT EXISTS handled_by (event_id INTEGER PRIMARY KEY, runtime TEXT, body TEXT)')
      tx.execute('INSERT INTO handled_by (event_id, runtime, body) VALUES (?, ?, ?)', [event.id, 'node', event.body.toString()])
    })
    const n = await k.drain()
    console.log(JSON.stringify({ drained: n }))
  }
  k.close()
}
main().catch((e) => { console.error(e); process.exit(1) })
