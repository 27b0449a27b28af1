/**
 * "Did you mean …?" for a mistyped command, flag, environment, service or skycap.yaml key: the closest known name by
 * edit distance (optimal string alignment: insertions, deletions, substitutions and swaps of two neighbours, each 1),
 * so `deplyo` → deploy, `--dry-rn` → --dry-run, `replcas` → replicas. Twenty lines of code, so no dependency.
 */

/** The number of single-character edits (insert, delete, substitute, swap neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  // rows[i][j]: distance between the first i characters of a and the first j of b.
  const rows: number[][] = Array.from({length: a.length + 1}, (_, i) => Array.from({length: b.length + 1}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1)
      ;(rows[i] as number[])[j] = best
    }
  }
  return at(a.length, b.length)
}

/**
 * The known name closest to `word`, or undefined when none is close: at most one edit for names up to four
 * characters, two up to eight, three beyond (so `qa` suggests nothing among dev, staging, prod). Case is ignored;
 * ties go to the first in `known`.
 */
export function closest(word: string, known: Iterable<string>): string | undefined {
  const typed = word.toLowerCase()
  const limit = typed.length <= 4 ? 1 : typed.length <= 8 ? 2 : 3
  let best: {name: string; distance: number} | undefined
  for (const name of known) {
    if (name === word) continue
    const distance = editDistance(typed, name.toLowerCase())
    if (distance <= limit && (!best || distance < best.distance)) best = {name, distance}
  }
  return best?.name
}

/** "; did you mean "prod"?" when a known name is close to `word`, else "" (appended to an "unknown …" message). */
export function didYouMean(word: string, known: Iterable<string>, quote = (name: string) => `"${name}"`): string {
  const name = closest(word, known)
  return name === undefined ? '' : `; did you mean ${quote(name)}?`
}

/**
 * The end of an "unknown …" message: the close name (did you mean) and the names there are, or only the close name
 * when it is the one there is (`did you mean "web"?; known: web` said it twice).
 */
export function didYouMeanOrKnown(word: string, known: readonly string[]): string {
  const suggestion = didYouMean(word, known)
  return suggestion && known.length === 1 ? suggestion : `${suggestion}; known: ${known.join(', ')}`
}
