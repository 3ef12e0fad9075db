'use strict'
const test = require('node:test')
const { execFileSync } = require('node:child_process')
const path = require('node:path')

test('npm pack installs into a fresh folder and require("knocker") works there', () => {
  execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'pack-check.js')], { stdio: 'pipe' })
})
