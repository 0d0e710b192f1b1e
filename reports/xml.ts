/**
 * Escaping for XML 1.0 (junit.xml). Every string from metrics, labels, config or the system under
 * test goes through one of these two functions.
 *
 * Beyond the five markup characters, XML 1.0 forbids most control characters even as character
 * references (`&#27;` is as invalid as a raw ESC), and one of them makes the whole file
 * unparseable, so CI would lose every test case, not just the one that held it. They, and lone
 * UTF-16 surrogates, are written as the visible text `\uNNNN` instead.
 */

/** Anything that is not an XML 1.0 `Char` (https://www.w3.org/TR/xml/#charsets). */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

function visibleInvalidChars(text: string): string {
  return text.replace(NOT_XML_CHAR, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Escapes a value for XML element content. */
export function xmlText(value: unknown): string {
  return visibleInvalidChars(String(value))
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    // `>` only matters in `]]>`, but escaping it always is simpler than finding that.
    .replaceAll('>', '&gt;')
    // A raw CR would be normalised to LF by every parser; keep it as it was.
    .replaceAll('\r', '&#13;');
}

/**
 * Escapes a value for a double- or single-quoted XML attribute. Tabs and line breaks become
 * character references: raw, a parser's attribute-value normalisation turns them into spaces and
 * a multi-line message would arrive on one line.
 */
export function xmlAttr(value: unknown): string {
  return xmlText(value).replaceAll('"', '&quot;').replaceAll("'", '&apos;').replaceAll('\n', '&#10;').replaceAll('\t', '&#9;');
}
