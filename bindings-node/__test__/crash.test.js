'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { open } = require('..')
const { tmpDb } = require('./helpers')

test('SIGKILL mid-receive: every receipt whose call returned is present after reopen; integrity ok', async () => {
  const p = tmpDb()
  const child = spawn(process.execPath, [path.join(__dirname, 'crash-child.js'), p], { stdio: ['ignore', 'pipe', 'inherit'] })
  let buf = ''
  const acked = []
  await new Promise((resolve) => {
    child.stdout.on('data', (d) => {
      buf += d
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [did, eid] = buf.slice(0, nl).split(' ').map(Number)
        buf = buf.slice(nl + 1)
        acked.push({ did, eid })
        if (acked.length === 300) child.kill('SIGKILL')
      }
    })
    child.on('exit', resolve)
  })
  assert.equal(child.signalCode, 'SIGKILL')
  assert.ok(acked.length >= 300)
  const k = open(p)
  for (const { did, eid } of acked) {
    assert.equal(k.getDelivery(did).eventId, eid)
    assert.equal(k.getEvent(eid).status, 'received')
  }
  const stats = k.stats()
  assert.ok(stats.byStatus.received >= acked.length)
  k.close()
  let Database
  try {
    Database = require('better-sqlite3')
  } catch {
    return
  }
  // Knocker is closed in this process now, so a second SQLite library may look at the file.
  const db = new Database(p, { readonly: true })
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  db.close()
})
