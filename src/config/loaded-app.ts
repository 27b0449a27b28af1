/**
 * The app of the skycap.yaml this process loaded: a CI job summary of a command that fails after loading it (a
 * template, the API server, a lock, a revision) names it (src/ci/output.ts). A process runs one command, so the last
 * one loaded is the command's.
 */
let loaded: string | undefined

/** Called by loadConfig with each skycap.yaml it loaded whole. */
export function noteLoadedApp(app: string): void {
  loaded = app
}

/** The app of the last skycap.yaml loaded whole in this process, if any was. */
export function loadedApp(): string | undefined {
  return loaded
}
