import {isUtf8} from 'node:buffer'

import {ConfigError} from '../errors.js'

/**
 * `content` as text, refused when it is not UTF-8. Node's decoder turns each invalid byte into U+FFFD, so a
 * skycap.yaml or template saved as Latin-1 (`café`) rendered `caf�` into the cluster without a word. `subject` names
 * the file in the message ("the file", "the template"); `file` is how messages show its path.
 */
export function decodeUtf8(content: Buffer, subject: string, file: string): string {
  if (isUtf8(content)) return content.toString('utf8')
  const hint = 'Save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); skycap reads skycap.yaml and templates as UTF-8 text. Binary data belongs in a config folder.'
  if ((content[0] === 0xff && content[1] === 0xfe) || (content[0] === 0xfe && content[1] === 0xff)) {
    throw new ConfigError(`${subject} is UTF-16 text, not UTF-8`, {file}, {hint})
  }
  // The first byte the decoder replaced (a U+FFFD the file really holds is three bytes, EF BF BD).
  const text = content.toString('utf8')
  let offset = 0
  let line = 1
  let column = 1
  for (const char of text) {
    if (char === '\ufffd' && !(content[offset] === 0xef && content[offset + 1] === 0xbf && content[offset + 2] === 0xbd)) break
    offset += Buffer.byteLength(char)
    if (char === '\n') {
      line++
      column = 1
    } else column++
  }
  const byte = (content[offset] ?? 0).toString(16).toUpperCase().padStart(2, '0')
  throw new ConfigError(`${subject} is not UTF-8 text (byte 0x${byte})`, {file, line, column}, {hint})
}
