import {excludeRegexes, type FilterSpec} from './filter.js'
import {formatLine, podColour, type FormatOptions} from './format.js'
import {splitTimestamp} from './lines.js'

/**
 * Turns the output of one `kubectl logs --timestamps` stream into what skycap prints, a chunk at a time.
 *
 * The common case (no --json, not just reconnected) is a tight loop: no object per line, patterns that are plain
 * strings found as bytes (the rest in one regex test for all excludes), the pod prefix computed once, and the
 * reconnect bookkeeping done once per chunk instead of per line.
 * That is what keeps a fast stream cheap (bench/logs.ts measured a per-line object model at a third of the speed).
 */
export class LogChunkProcessor {
  /** Timestamp of the last line seen, to resume after a reconnect without repeating lines. */
  lastTs = ''
  /** Lines seen at lastTs (several lines can share a timestamp). */
  private atLastTs: string[] = []
  /** After a reconnect, kubectl repeats lines from --since-time: compare line by line until past lastTs. */
  private resuming = false
  private rest = ''
  private restBytes: Buffer = Buffer.alloc(0)
  /** All patterns are ASCII: they can be tested on lines as bytes (latin1) without decoding UTF-8. */
  private readonly ascii: boolean
  private readonly prefixBytes: Buffer
  /** Lines hidden by the filters so far. */
  hidden = 0
  /**
   * Of those, the lines a configured exclude (skycap.yaml) hid: the note at the end names the filter that hid them, and
   * offers --no-filters only for these (it was offered for lines all hidden by --grep, which it does not show).
   */
  hiddenConfigured = 0
  shown = 0
  private readonly configured: RegExp[]
  private readonly exclude: RegExp[]
  private readonly greps: RegExp[]
  private readonly prefix: string
  /** The bytes path's share of the patterns: the literal ones, searched as bytes... */
  private readonly literals: Literal[]
  /** ...and the rest, still regexes (tested on a latin1 string of the chunk). */
  private readonly configuredRest: RegExp[]
  private readonly excludeRest: RegExp[]
  private readonly grepRest: RegExp[]
  /** Per literal, where its next occurrence in the chunk is (reset per chunk). */
  private readonly hits: number[]
  /** Start and end of each kept line of a chunk, reused from chunk to chunk. */
  private kept = new Int32Array(2048)

  constructor(
    spec: FilterSpec,
    private readonly source: {service: string; pod: string; container: string},
    private readonly format: FormatOptions,
  ) {
    const excludes = [...spec.configured, ...spec.exclude]
    // The configured excludes apart from --exclude: which of them hid a line is counted (hiddenConfigured).
    this.configured = excludeRegexes(spec.configured)
    this.exclude = excludeRegexes(spec.exclude)
    this.greps = spec.grep.map((g) => new RegExp(g))
    const label = format.showContainer ? `${source.pod} ${source.container}` : source.pod
    // The colour is fixed per pod: computed once, not per line.
    this.prefix = `${format.colour ? `\u001B[${podColour(source.pod)}m${label}\u001B[39m` : label} │ `
    this.prefixBytes = Buffer.from(this.prefix)
    this.ascii = [...excludes, ...spec.grep].every((p) => [...p].every((ch) => ch.charCodeAt(0) < 128))
    // The literals are found as bytes; the rest stay regexes (excludeRegexes keeps patterns with groups apart).
    this.configuredRest = excludeRegexes(spec.configured.filter((p) => !literalPattern(p)))
    this.excludeRest = excludeRegexes(spec.exclude.filter((p) => !literalPattern(p)))
    this.grepRest = spec.grep.filter((g) => !literalPattern(g)).map((g) => new RegExp(g))
    // The configured ones first: a line that they and --exclude or --grep would hide counts as theirs.
    this.literals = [
      ...spec.configured.flatMap((p) => literalPattern(p, true, true) ?? []),
      ...spec.exclude.flatMap((p) => literalPattern(p, true) ?? []),
      ...spec.grep.flatMap((g) => literalPattern(g, false) ?? []),
    ]
    this.hits = this.literals.map(() => -1)
  }

  /**
   * Like push, on bytes: the fastest path (bench/logs.ts). Lines are found with Buffer.indexOf, patterns tested on
   * a latin1 view (exact for ASCII patterns: a UTF-8 byte never looks like an ASCII character), kept lines copied as
   * bytes behind the prefix. Falls back to push() on text for --json, right after a reconnect, and for non-ASCII
   * patterns.
   */
  pushBytes(chunk: Buffer): Buffer | undefined {
    // The line left over from the last chunk is finished on its own, so the chunk itself is never copied.
    let lead: Buffer | undefined
    if (this.restBytes.length) {
      const first = chunk.indexOf(10)
      if (first === -1) {
        this.restBytes = Buffer.concat([this.restBytes, chunk])
        return undefined
      }
      const line = Buffer.concat([this.restBytes, chunk.subarray(0, first + 1)])
      this.restBytes = Buffer.alloc(0)
      lead = this.processBody(line)
      chunk = chunk.subarray(first + 1)
    }
    const end = chunk.lastIndexOf(10)
    // A copy: the caller may reuse its buffer for the next read.
    this.restBytes = Buffer.from(chunk.subarray(end + 1))
    return end === -1 ? lead : this.processBody(chunk.subarray(0, end + 1), lead)
  }

  /** Complete lines as bytes; `lead` (output already made) goes first. */
  private processBody(body: Buffer, lead?: Buffer): Buffer | undefined {
    if (this.resuming || this.format.json || !this.ascii) {
      const text = this.process(body.toString('utf8'))
      if (!text) return lead
      return lead ? Buffer.concat([lead, Buffer.from(text)]) : Buffer.from(text)
    }
    return this.processBytes(body, lead)
  }

  /** The last line as bytes, when the stream ended without a newline. */
  flushBytes(): Buffer | undefined {
    const rest = this.restBytes
    this.restBytes = Buffer.alloc(0)
    return rest.length ? this.pushBytes(Buffer.from([...rest, 10])) : undefined
  }

  private processBytes(body: Buffer, lead?: Buffer): Buffer | undefined {
    const {literals, hits, configuredRest, excludeRest, grepRest} = this
    const showTs = this.format.timestamps
    // Only patterns that are not literals need a string: one latin1 string per chunk (a byte per character, so
    // offsets are byte offsets), sliced per line without copying. A string per line from the Buffer cost twice as much.
    const regexes = configuredRest.length > 0 || excludeRest.length > 0 || grepRest.length > 0
    const text = regexes ? body.toString('latin1') : ''
    hits.fill(-1)
    let kept = this.kept
    let count = 0
    let size = 0
    let lines = 0
    let lastTsStart = -1
    let byConfigured = 0
    const end = body.length
    for (let pos = 0; pos < end;) {
      const nl = body.indexOf(10, pos)
      let start = pos
      const c = body[pos] as number
      if (c >= 48 && c <= 57 && body[pos + 4] === 45) {
        // A timestamp is 20-35 characters up to the line's first space.
        const limit = Math.min(nl, pos + 36)
        let space = pos + 1
        while (space < limit && body[space] !== 32) space++
        if (space < limit && space - pos >= 20) {
          start = space + 1
          lastTsStart = pos
        }
      }
      lines++
      let shown = true
      let configured = false
      for (let i = 0; i < literals.length; i++) {
        const literal = literals[i] as Literal
        let found: boolean
        if (literal.anchored) found = startsWithAt(body, start, nl, literal.bytes)
        else {
          // The next occurrence at or after the message start: one native search per occurrence, not per line. An
          // occurrence inside a timestamp is passed over; one cannot span lines, since a literal has no newline.
          let hit = hits[i] as number
          if (hit < start) {
            hit = findLiteral(body, start, literal)
            hits[i] = hit = hit === -1 ? end : hit
          }
          found = hit < nl
        }
        if (found === literal.exclude) {
          shown = false
          configured = literal.configured
          break
        }
      }
      // A line a flag's literal hid is tested against the configured regexes too, to count it as theirs.
      if (regexes && (shown || (!configured && configuredRest.length > 0))) {
        const message = text.slice(start, nl)
        if (configuredRest.some((r) => r.test(message))) {
          shown = false
          configured = true
        } else if (shown) shown = !excludeRest.some((r) => r.test(message)) && grepRest.every((g) => g.test(message))
      }
      if (configured) byConfigured++
      if (shown) {
        const from = showTs ? pos : start
        if (count === kept.length) {
          const grown = new Int32Array(kept.length * 2)
          grown.set(kept)
          this.kept = kept = grown
        }
        kept[count++] = from
        kept[count++] = nl + 1
        size += nl + 1 - from
      }
      pos = nl + 1
    }
    // The reconnect bookkeeping needs only the chunk's last lines (those sharing the last timestamp).
    if (lastTsStart !== -1) this.remember(body.toString('utf8', Math.min(lastTsStart, body.lastIndexOf(10, Math.max(0, body.length - 4096)) + 1)))
    const shown = count / 2
    this.hidden += lines - shown
    this.hiddenConfigured += byConfigured
    this.shown += shown
    if (shown === 0) return lead
    const prefix = this.prefixBytes
    const out = Buffer.allocUnsafe(size + shown * prefix.length + (lead?.length ?? 0))
    let off = 0
    if (lead) {
      out.set(lead)
      off = lead.length
    }
    // TypedArray set on a view: a memcpy without Buffer.copy's argument checks, measurably cheaper per line.
    const {buffer, byteOffset} = body
    for (let i = 0; i < count; i += 2) {
      out.set(prefix, off)
      off += prefix.length
      const from = kept[i] as number
      const len = (kept[i + 1] as number) - from
      out.set(new Uint8Array(buffer, byteOffset + from, len), off)
      off += len
    }
    return out
  }

  /** The stream was restarted with --since-time=lastTs. */
  resume(): void {
    this.resuming = true
  }

  /** Text to print for this chunk ('' when nothing): complete lines only, the rest waits for the next chunk. */
  push(chunk: string): string {
    const text = this.rest + chunk
    const end = text.lastIndexOf('\n')
    if (end === -1) {
      this.rest = text
      return ''
    }
    this.rest = text.slice(end + 1)
    return this.process(text.slice(0, end + 1))
  }

  /** The last line, when the stream ended without a newline. */
  flush(): string {
    const rest = this.rest
    this.rest = ''
    return rest ? this.process(`${rest}\n`) : ''
  }

  private process(body: string): string {
    if (this.resuming || this.format.json) return this.byLine(body)
    this.remember(body)
    const lines = body.split('\n')
    lines.pop()
    const out: string[] = []
    const {configured, exclude, greps, prefix} = this
    const showTs = this.format.timestamps
    for (const raw of lines) {
      let message = raw
      let ts = ''
      const space = raw.indexOf(' ')
      if (space >= 20 && space <= 35 && raw.charCodeAt(4) === 45 && raw.charCodeAt(0) >= 48 && raw.charCodeAt(0) <= 57) {
        message = raw.slice(space + 1)
        if (showTs) ts = raw.slice(0, space + 1)
      }
      if (configured.some((r) => r.test(message))) {
        this.hiddenConfigured++
        continue
      }
      if (exclude.some((r) => r.test(message)) || (greps.length > 0 && greps.some((g) => !g.test(message)))) continue
      out.push(prefix + ts + message)
    }
    this.hidden += lines.length - out.length
    this.shown += out.length
    return out.length ? `${out.join('\n')}\n` : ''
  }

  /**
   * Keeps lastTs (the newest timestamp seen, not the last line's) and the messages at it from the end of a chunk, for
   * a later reconnect. Lines are only nearly in order: the runtime stamps stdout and stderr apart, so a crashing
   * process's stderr line can be stamped a few µs before the stdout line written ahead of it. Taking the last line's
   * timestamp made every resume show the lines after it again, at every poll of a crash-looping container.
   */
  private remember(body: string): void {
    let end = body.length - 1
    let ts = ''
    let same: string[] = []
    // The last lines (out-of-order ones are µs apart), not the whole chunk.
    for (let lines = 0; end > 0 && lines < 64; lines++) {
      const start = body.lastIndexOf('\n', end - 1) + 1
      const {timestamp, message} = splitTimestamp(body.slice(start, end))
      end = start - 1
      if (timestamp > ts) {
        ts = timestamp
        same = [message]
      } else if (timestamp && timestamp === ts) same.push(message)
    }
    if (!ts || ts < this.lastTs) return
    if (ts === this.lastTs) this.atLastTs.push(...same)
    else {
      this.lastTs = ts
      this.atLastTs = same
    }
  }

  private byLine(body: string): string {
    const out: string[] = []
    const lines = body.split('\n')
    lines.pop()
    for (const raw of lines) {
      const {timestamp, message} = splitTimestamp(raw)
      if (timestamp) {
        if (this.resuming) {
          if (timestamp < this.lastTs || (timestamp === this.lastTs && this.atLastTs.includes(message))) continue
          if (timestamp > this.lastTs) this.resuming = false
        }
        // The newest timestamp counts (see remember): a line stamped before it leaves it alone.
        if (timestamp > this.lastTs) {
          this.lastTs = timestamp
          this.atLastTs = []
        }
        if (timestamp === this.lastTs) this.atLastTs.push(message)
      }
      const configured = this.configured.some((r) => r.test(message))
      if (configured || this.exclude.some((r) => r.test(message)) || this.greps.some((g) => !g.test(message))) {
        this.hidden++
        if (configured) this.hiddenConfigured++
        continue
      }
      out.push(this.format.json ? formatLine({...this.source, timestamp, message}, this.format) : `${this.prefix}${this.format.timestamps && timestamp ? `${timestamp} ` : ''}${message}`)
    }
    this.shown += out.length
    return out.length ? `${out.join('\n')}\n` : ''
  }
}

/** A pattern that is a fixed string, at the start of the message when anchored: found as bytes, not with the regex. */
interface Literal {
  bytes: Buffer
  anchored: boolean
  /** An exclude (a hit hides the line) or a --grep (a miss hides it). */
  exclude: boolean
  /** One of skycap.yaml's excludes (not --exclude or --grep). */
  configured: boolean
  /** The literal's least common byte (by COMMON_TO_RARE) and its offset in it: what findLiteral looks for first. */
  rare: number
  rareAt: number
}

// What makes a pattern more than a fixed string for a JavaScript RegExp without flags.
const REGEX_SYNTAX = /[\\^$.|?*+()[\]{}]/

// Printable ASCII roughly from most to least common in English text and logs; what is not listed counts as rarest.
const COMMON_TO_RARE = ` etaoinsrlhdcu0123456789mpfgw.y=b,:/-_vkSTEAIRNOCLDPMxFBHGUWKVY"'()[]jqzJQXZ`

/** The pattern as a Literal, when it is printable ASCII without regex syntax after an optional leading ^. */
export function literalPattern(pattern: string, exclude = true, configured = false): Literal | undefined {
  const anchored = pattern.startsWith('^')
  const text = anchored ? pattern.slice(1) : pattern
  if (!/^[ -~]+$/.test(text) || REGEX_SYNTAX.test(text)) return undefined
  const rank = (i: number) => {
    const r = COMMON_TO_RARE.indexOf(text.charAt(i))
    return r === -1 ? COMMON_TO_RARE.length : r
  }
  let rareAt = 0
  for (let i = 1; i < text.length; i++) if (rank(i) > rank(rareAt)) rareAt = i
  return {bytes: Buffer.from(text, 'latin1'), anchored, exclude, configured, rare: text.charCodeAt(rareAt), rareAt}
}

/**
 * Where the literal first occurs in `body` at or after `from`, or -1. Buffer.indexOf with a needle runs at about
 * 2 GB/s (slower than the regex it replaces); Buffer.indexOf of one byte is a memchr, several times faster. So, as
 * ripgrep does, look for the literal's rarest byte and compare around it; after a few false candidates (a byte that
 * is not rare in this log) finish with the needle search, so the worst case stays a native search.
 */
function findLiteral(body: Buffer, from: number, literal: Literal): number {
  const {bytes, rare, rareAt} = literal
  let at = from + rareAt
  for (let tries = 0; tries < 16; tries++) {
    at = body.indexOf(rare, at)
    if (at === -1) return -1
    if (startsWithAt(body, at - rareAt, body.length, bytes)) return at - rareAt
    at++
  }
  return body.indexOf(bytes, at - rareAt)
}

/** Whether `bytes` are at `start` of the line that ends at `end`. */
function startsWithAt(line: Buffer, start: number, end: number, bytes: Buffer): boolean {
  if (end - start < bytes.length) return false
  for (let i = 0; i < bytes.length; i++) if (line[start + i] !== bytes[i]) return false
  return true
}
