'use strict'
// Child for sqlite-sharing.test.js: Knocker and better-sqlite3 (its own bundled SQLite) on
// one file in one process, then a hard crash.
const { open } = require('..')
const Database = require('better-sqlite3')
const fs = require('node:fs')
const [path, mode] = process.argv.slice(2)
const k = open(path)
k.addEndpoint({ name: 'e', path: '/e' })
const out = []
out.push(k.receive({ endpoint: 'e', body: 'before' }).eventId)
if (mode === 'shared') {
  const app = new Database(path)
  app.prepare('CREATE TABLE IF NOT EXISTS app_notes (n TEXT)').run()
  app.prepare('INSERT INTO app_notes VALUES (?)').run('hello')
  out.push(app.prepare('SELECT count(*) AS c FROM knocker_events').get().c)
  app.close()
} else {
  out.push(1)
}
const walAfterClose = fs.existsSync(path + '-wal')
for (const b of ['after-1', 'after-2']) out.push(k.receive({ endpoint: 'e', body: b }).eventId)
process.stdout.write(JSON.stringify({ ids: out, walAfterClose }) + '\n', () => process.kill(process.pid, 'SIGKILL'))
