'use strict'
// DESIGN.md "One SQLite per process": better-sqlite3 bundles its own SQLite, so it cannot share
// Knocker's. This test shows what happens when an app opens the same file with it in the same
// process (reads, writes, closes) and the process then dies, next to the safe pattern.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { open } = require('..')
const { tmpDb } = require('./helpers')

let Database = null
try {
  Database = require('better-sqlite3')
} catch {}

function run(mode) {
  const p = tmpDb()
  const r = spawnSync(process.execPath, [path.join(__dirname, 'sharing-child.js'), p, mode], { encoding: 'utf8' })
  assert.equal(r.signal, 'SIGKILL', r.stderr)
  const { ids, walAfterClose } = JSON.parse(r.stdout.trim())
  const k = open(p)
  const present = k.listEvents().map((e) => e.id)
  k.close()
  const db = new Database(p, { readonly: true })
  const integrity = db.pragma('integrity_check', { simple: true })
  db.close()
  return { ids: [ids[0], ids[2], ids[3]], present, walAfterClose, integrity }
}

test('safe pattern (no second SQLite copy in the process): every acknowledged receipt survives SIGKILL', { skip: !Database && 'better-sqlite3 not installed' }, () => {
  const r = run('alone')
  assert.deepEqual(r.present.sort(), r.ids.sort())
  assert.equal(r.integrity, 'ok')
})

test('better-sqlite3 on the same file in the same process: its close deletes the WAL, and core still loses no acknowledged receipt', { skip: !Database && 'better-sqlite3 not installed' }, () => {
  const r = run('shared')
  const lost = r.ids.filter((id) => !r.present.includes(id))
  console.log(`# better-sqlite3 close deleted Knocker's WAL: ${!r.walAfterClose}; acknowledged receipts lost after SIGKILL: ${lost.length} of ${r.ids.length}; integrity: ${r.integrity}`)
  // better-sqlite3's close() cannot see Knocker's locks (POSIX locks are per process), so it
  // checkpoints and unlinks -wal under Knocker. Knocker's core checks the WAL file's identity
  // around every write: it reopens its connections before writing and refuses to acknowledge
  // a commit that raced the deletion (error code wal_replaced), so nothing acknowledged is lost.
  assert.equal(r.walAfterClose, false, 'the hazard happened: better-sqlite3 deleted the WAL')
  assert.deepEqual(lost, [], 'every acknowledged receipt survives the crash')
  assert.equal(r.integrity, 'ok')
})
