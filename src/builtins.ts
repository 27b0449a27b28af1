// Node built-in modules that take milliseconds to load on first use (node:crypto about 6 ms, node:zlib about 3 ms on
// this project's machines), loaded when a command first needs them rather than at start-up: `skycap status` or
// `lock status` hashes and compresses nothing, and should not pay for it (docs/startup.md).

/** node:crypto, loaded on first call. */
export function nodeCrypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto')
}

/** node:zlib, loaded on first call. */
export function nodeZlib(): typeof import('node:zlib') {
  return process.getBuiltinModule('node:zlib')
}
