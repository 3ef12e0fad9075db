'use strict'
// Regenerates the napi loader and types (debug build) and fails when they differ from the
// committed native.js / native.d.ts. Commit the regenerated files when this fails.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const dir = path.resolve(__dirname, '..')
const files = ['native.d.ts', 'native.js']
const before = Object.fromEntries(files.map((f) => [f, fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8') : null]))
const napi = path.join(dir, 'node_modules', '.bin', 'napi')
execFileSync(napi, ['build', '--platform', '--js', 'native.js', '--dts', 'native.d.ts'], { cwd: dir, stdio: 'inherit' })
let changed = []
for (const f of files) if (fs.readFileSync(path.join(dir, f), 'utf8') !== before[f]) changed.push(f)
if (changed.length) {
  console.error(`generated ${changed.join(', ')} changed; review and commit them (git diff bindings-node/)`)
  process.exit(1)
}
console.log('native.d.ts and native.js are up to date')
