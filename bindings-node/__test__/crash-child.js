'use strict'
// Child for crash.test.js: receives in a loop and reports each acknowledged receipt on stdout
// before the next one; the parent SIGKILLs it mid-stream.
const { open } = require('..')
const crypto = require('node:crypto')
const fs = require('node:fs')
const [path] = process.argv.slice(2)
const k = open(path)
k.addEndpoint({ name: 'h', path: '/h', provider: 'generic-hmac', secrets: ['s3cret'] })
for (let i = 0; ; i++) {
  const body = JSON.stringify({ i, pad: 'x'.repeat(200) })
  const sig = 'sha256=' + crypto.createHmac('sha256', 's3cret').update(body).digest('hex')
  const r = k.receive({ endpoint: 'h', body, headers: { 'X-Signature': sig } })
  if (r.statusCode !== 204) throw new Error('unexpected ' + r.statusCode)
  fs.writeSync(1, `${r.deliveryId} ${r.eventId}\n`)
}
