import {fileURLToPath} from 'node:url'

/** The installed package's root (this file is compiled to dist/src/paths.js). */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url))

/** Where the built-in manifest templates and the `skycap init` scaffold live. */
export const templatesDir = fileURLToPath(new URL('../../templates/', import.meta.url))
