/**
 * Sets (a string) or unsets (undefined) variables of this process's environment; returns what puts them back as
 * they were.
 */
export function setEnvironment(values: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]))
  assign(values)
  return () => assign(saved)
}

function assign(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
}
