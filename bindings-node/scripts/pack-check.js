'use strict'
// `npm pack`, install the tarball into a fresh folder, and require('knocker') there.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const dir = path.resolve(__dirname, '..')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'knocker-pack-'))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const out = execFileSync(npm, ['pack', '--json', '--pack-destination', tmp], { cwd: dir, encoding: 'utf8' })
const tarball = path.join(tmp, JSON.parse(out)[0].filename)
const app = path.join(tmp, 'app')
fs.mkdirSync(app)
fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
execFileSync(npm, ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: app, stdio: 'inherit' })
const script = `
const { open, KnockerError } = require('knocker')
const k = open(require('path').join(process.cwd(), 'x.sqlite'))
k.addEndpoint({ name: 'e', path: '/e' })
const r = k.receive({ endpoint: 'e', body: 'hi' })
if (r.statusCode !== 204 || typeof KnockerError !== 'function') process.exit(1)
k.close()
console.log('require("knocker") works from the packed tarball')
`
execFileSync(process.execPath, ['-e', script], { cwd: app, stdio: 'inherit' })
fs.rmSync(tmp, { recursive: true, force: true })
