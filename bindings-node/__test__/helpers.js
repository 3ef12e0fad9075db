'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')

function tmpDb(name = 'k') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'knocker-node-'))
  return path.join(dir, `${name}.sqlite`)
}

function sign(secret, body, prefix = 'sha256=') {
  return prefix + crypto.createHmac('sha256', secret).update(body).digest('hex')
}

const nowS = () => Math.floor(Date.now() / 1000)

module.exports = { tmpDb, sign, nowS }
