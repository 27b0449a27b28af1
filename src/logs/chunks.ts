import type {FilterSpec} from './filter.js'
import {formatLine, podColour, type FormatOptions} from './format.js'
import {splitTimestamp} from './lines.js'

/**
 * Turns the output of one `kubectl logs --timestamps` stream into what skycap prints, a chunk at a time.
 *
 * The common case (no --json, not just reconnected) is a tight loop: no object per line, one regex test for all
 * excludes, the pod prefix computed once, and the reconnect bookkeeping done once per chunk instead of per line.
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
  shown = 0
  private readonly exclude?: RegExp
  private readonly greps: RegExp[]
  private readonly prefix: string

  constructor(
    spec: FilterSpec,
    private readonly source: {service: string; pod: string; container: string},
    private readonly format: FormatOptions,
  ) {
    const excludes = [...spec.configured, ...spec.exclude]
    this.exclude = excludes.length ? new RegExp(excludes.map((p) => `(?:${p})`).join('|')) : undefined
    this.greps = spec.grep.map((g) => new RegExp(g))
    const label = format.showContainer ? `${source.pod} ${source.container}` : source.pod
    // The colour is fixed per pod: computed once, not per line.
    this.prefix = `${format.colour ? `\u001B[${podColour(source.pod)}m${label}\u001B[39m` : label} │ `
    this.prefixBytes = Buffer.from(this.prefix)
    this.ascii = [...excludes, ...spec.grep].every((p) => [...p].every((ch) => ch.charCodeAt(0) < 128))
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
    const {exclude, greps} = this
    const showTs = this.format.timestamps
    // One latin1 string per chunk (a byte per character, so offsets are byte offsets): lines are found and tested
    // on slices of it, which V8 makes without copying. A string per line from the Buffer cost twice as much.
    const text = body.toString('latin1')
    const kept: number[] = []
    let size = 0
    let lines = 0
    let lastTsStart = -1
    for (let pos = 0; pos < text.length;) {
      const nl = text.indexOf('\n', pos)
      let start = pos
      const c = text.charCodeAt(pos)
      if (c >= 48 && c <= 57 && text.charCodeAt(pos + 4) === 45) {
        const space = text.indexOf(' ', pos)
        if (space !== -1 && space < nl && space - pos >= 20 && space - pos <= 35) {
          start = space + 1
          lastTsStart = pos
        }
      }
      lines++
      const message = text.slice(start, nl)
      if (!((exclude !== undefined && exclude.test(message)) || (greps.length > 0 && greps.some((g) => !g.test(message))))) {
        const from = showTs ? pos : start
        kept.push(from, nl + 1)
        size += this.prefixBytes.length + nl + 1 - from
      }
      pos = nl + 1
    }
    // The reconnect bookkeeping needs only the chunk's last lines (those sharing the last timestamp).
    if (lastTsStart !== -1) this.remember(body.toString('utf8', Math.min(lastTsStart, body.lastIndexOf(10, Math.max(0, body.length - 4096)) + 1)))
    this.hidden += lines - kept.length / 2
    this.shown += kept.length / 2
    if (kept.length === 0) return lead
    const out = Buffer.allocUnsafe(size + (lead?.length ?? 0))
    let off = lead ? lead.copy(out, 0) : 0
    for (let i = 0; i < kept.length; i += 2) {
      off += this.prefixBytes.copy(out, off)
      off += body.copy(out, off, kept[i], kept[i + 1])
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
    const {exclude, greps, prefix} = this
    const showTs = this.format.timestamps
    for (const raw of lines) {
      let message = raw
      let ts = ''
      const space = raw.indexOf(' ')
      if (space >= 20 && space <= 35 && raw.charCodeAt(4) === 45 && raw.charCodeAt(0) >= 48 && raw.charCodeAt(0) <= 57) {
        message = raw.slice(space + 1)
        if (showTs) ts = raw.slice(0, space + 1)
      }
      if ((exclude !== undefined && exclude.test(message)) || (greps.length > 0 && greps.some((g) => !g.test(message)))) continue
      out.push(prefix + ts + message)
    }
    this.hidden += lines.length - out.length
    this.shown += out.length
    return out.length ? `${out.join('\n')}\n` : ''
  }

  /** Keeps lastTs and the messages at it from the end of a chunk, for a later reconnect. */
  private remember(body: string): void {
    let end = body.length - 1
    let ts = ''
    const same: string[] = []
    while (end > 0) {
      const start = body.lastIndexOf('\n', end - 1) + 1
      const {timestamp, message} = splitTimestamp(body.slice(start, end))
      if (!timestamp || (ts && timestamp !== ts)) break
      ts = timestamp
      same.push(message)
      end = start - 1
    }
    if (!ts) return
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
        if (timestamp !== this.lastTs) {
          this.lastTs = timestamp
          this.atLastTs = []
        }
        this.atLastTs.push(message)
      }
      if ((this.exclude && this.exclude.test(message)) || this.greps.some((g) => !g.test(message))) {
        this.hidden++
        continue
      }
      out.push(this.format.json ? formatLine({...this.source, timestamp, message}, this.format) : `${this.prefix}${this.format.timestamps && timestamp ? `${timestamp} ` : ''}${message}`)
    }
    this.shown += out.length
    return out.length ? `${out.join('\n')}\n` : ''
  }
}
