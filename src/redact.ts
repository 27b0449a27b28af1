/** `text` with every secret (of 4 characters or more) replaced by ***: what an HTTP answer quotes back (notify, requireChecks). */
export function redact(text: string, secrets: string[]): string {
  let out = text
  for (const s of [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(s).join('***')
  return out
}
