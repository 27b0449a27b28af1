/**
 * Text from outside skycap (a commit's subject and author, a lock's reason and holder) on one printable line: control
 * characters and line separators become a space. A commit subject holding ESC could otherwise retitle or clear the
 * terminal of whoever runs `diff` or `history`, or with CR hide what is already on the line; under GitHub Actions a
 * line of its own starting with `::` would be read as a workflow command (`::error`, `::endgroup::`).
 */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim()
}
