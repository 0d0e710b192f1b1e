/** How GFM reads the structure of a Markdown text, for the tests of the Markdown views. */

/** GFM splits a table row at every `|` not preceded by a backslash, code spans included. */
export function tableCells(row: string): string[] {
  return row
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** The text without fenced code blocks and code spans, whose content Markdown shows literally. */
export function withoutCode(markdown: string): string {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^(`{3,})/.exec(line)?.[1];
    if (fence === undefined && marker) fence = marker;
    else if (fence !== undefined && marker && line.trim() === fence) fence = undefined;
    else if (fence === undefined) lines.push(line);
  }
  return lines.join('\n').replace(/(?<!\\)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, '');
}
