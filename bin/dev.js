#!/usr/bin/env node
// Runs the compiled commands like run.js, but with oclif's development settings (no manifest cache).
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
