/** `kubectl logs --timestamps` puts an RFC 3339 timestamp and a space before each line. */
export function splitTimestamp(line: string): {timestamp: string; message: string} {
  const space = line.indexOf(' ')
  // Timestamps are 20-35 characters and start with a digit; anything else is a line without one.
  if (space >= 20 && space <= 35 && line.charCodeAt(0) >= 48 && line.charCodeAt(0) <= 57 && line.charCodeAt(4) === 45) {
    return {timestamp: line.slice(0, space), message: line.slice(space + 1)}
  }
  return {timestamp: '', message: line}
}
