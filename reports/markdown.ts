/**
 * Escaping for GitHub-flavoured Markdown (summary.md, Grafana text panels). Every string from
 * metrics, labels, config or the system under test goes through one of these functions, so that
 * it shows as the text it is: never as a link, an image, emphasis, a table column, raw HTML
 * (`<script>`, `<img onerror>`), maths (`$…$`) or a heading.
 *
 * `<`, `>` and `&` become entities rather than backslash escapes: every Markdown renderer and
 * HTML sanitiser understands entities, not all of them CommonMark's `\<`.
 */

/** ASCII punctuation that starts an inline construct: code, emphasis, links, strikethrough, GFM table cells, maths. */
const INLINE_SPECIAL = /[\\`*_[\]|~$]/g;

/**
 * What starts a block when first on a line: a heading (`# `), a list item (`- `, `+ `, `1. `), a
 * thematic break (`---`) or a setext underline (`===`). (`>` is an entity by then; `*` is escaped.)
 */
const LINE_START_SPECIAL = /^(\s*)(#{1,6}(?=\s|$)|[-+](?=\s|$)|-{3,}|=+(?=\s*$)|\d{1,9}(?=[.)](?:\s|$)))/;

/**
 * Control characters (ESC starts terminal sequences when someone `cat`s the file in a CI log)
 * are written as the visible text `\uNNNN`; tabs and line breaks are left to the caller.
 */
function visibleControls(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Inline text for a paragraph, list item or heading: special characters escaped, line breaks folded to spaces. */
export function mdText(value: unknown): string {
  const escaped = visibleControls(String(value))
    .replace(/\r\n?|\n/g, ' ')
    .replace(INLINE_SPECIAL, '\\$&')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;');
  // `&gt;` at the start cannot open a quote any more; the others need a backslash (digits: the `.`/`)` after them).
  return escaped.replace(LINE_START_SPECIAL, (_m, space: string, mark: string) => (/^\d/.test(mark) ? `${space}${mark}\\` : `${space}\\${mark}`));
}

/** A table cell: {@link mdText}, whose `|` is already `\|`, so it cannot start another column. */
export function mdCell(value: unknown): string {
  return mdText(value).trim() || ' ';
}

/**
 * An inline code span (PromQL, names) delimited by more backticks than the text contains in a
 * row, so no backtick inside can close it. Inside a table cell (`inTable`) a `|` must still be
 * written `\|`: GFM splits cells before it parses code spans.
 */
export function mdCode(value: unknown, options: { inTable?: boolean } = {}): string {
  let text = visibleControls(String(value)).replace(/\r\n?|\n/g, ' ');
  if (options.inTable) text = text.replaceAll('|', '\\|');
  const fence = '`'.repeat(longestRun(text, '`') + 1);
  // A span starting or ending with a backtick needs a space between it and the fence.
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A fenced code block, fenced with more backticks than any run inside, so its text cannot end it. */
export function mdCodeBlock(value: unknown, language = ''): string {
  const text = visibleControls(String(value)).replace(/\r\n?/g, '\n');
  const fence = '`'.repeat(Math.max(3, longestRun(text, '`') + 1));
  return `${fence}${language}\n${text}\n${fence}`;
}

/**
 * Text inside HTML the summary writes (`<summary>` of a `<details>`): HTML-escaped, and Markdown's
 * punctuation as character references too, since some renderers read Markdown inside such tags.
 */
export function mdHtml(value: unknown): string {
  // One pass, every special character as a numeric reference: HTML's five and Markdown's punctuation.
  return visibleControls(String(value))
    .replace(/\r\n?|\n/g, ' ')
    .replace(/[&<>"'\\`*_[\]|~$#]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A GFM table; every cell is escaped with {@link mdCell}. */
export function mdTable(header: readonly string[], rows: readonly (readonly unknown[])[], align: readonly ('left' | 'right')[] = []): string {
  const line = (cells: readonly unknown[]): string => `| ${cells.map(mdCell).join(' | ')} |`;
  const rule = `|${header.map((_, i) => (align[i] === 'right' ? ' ---: ' : ' --- ')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** A GFM table whose cells are already Markdown (built from escaped parts, e.g. a code span and a bold verdict). */
export function mdTableRaw(header: readonly string[], rows: readonly (readonly string[])[], align: readonly ('left' | 'right')[] = []): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\r\n?|\n/g, ' ') || ' ').join(' | ')} |`;
  const rule = `|${header.map((_, i) => (align[i] === 'right' ? ' ---: ' : ' --- ')).join('|')}|`;
  return [line(header.map(mdCell)), rule, ...rows.map(line)].join('\n');
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}
