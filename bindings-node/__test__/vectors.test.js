'use strict'
// Shared conformance vectors: tests/vectors/providers/<name>/*.json, run through core's
// curated providers at the vector's injected `now`. Skips cleanly when there are none.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { verifyVector } = require('..')

const root = path.resolve(__dirname, '..', '..', 'tests', 'vectors', 'providers')
const files = []
if (fs.existsSync(root)) {
  for (const dir of fs.readdirSync(root).sort()) {
    const d = path.join(root, dir)
    if (!fs.statSync(d).isDirectory()) continue
    for (const f of fs.readdirSync(d).sort()) if (f.endsWith('.json')) files.push(path.join(d, f))
  }
}

if (files.length === 0) {
  test('provider vectors', { skip: `no vector files under ${root}` }, () => {})
}

for (const file of files) {
  test(`vector ${path.relative(root, file)}`, () => {
    const v = JSON.parse(fs.readFileSync(file, 'utf8'))
    const req = v.request || {}
    const got = verifyVector({
      provider: v.provider,
      method: req.method,
      url: req.url,
      headers: req.headers || [],
      query: req.query || [],
      body: Buffer.from(req.body_b64 || '', 'base64'),
      secrets: v.secrets || [],
      options: v.options || {},
      now: v.now,
    })
    const exp = v.expected || {}
    assert.equal(got.valid, exp.valid, `valid (${got.errorCode})`)
    const fields = { error_code: 'errorCode', secret_index: 'secretIndex', event_id: 'eventId', event_type: 'eventType', delivery_id: 'deliveryId', idempotency_key: 'idempotencyKey' }
    for (const [snake, camel] of Object.entries(fields)) {
      if (snake in exp) assert.deepEqual(got[camel], exp[snake], snake)
    }
    if ('handshake' in exp) {
      if (exp.handshake === null) assert.equal(got.handshake, null)
      else for (const [key, val] of Object.entries(exp.handshake)) assert.deepEqual(got.handshake[key], val, `handshake.${key}`)
    }
  })
}
