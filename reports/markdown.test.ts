import { describe, expect, it } from 'vitest';
import { mdCell, mdCode, mdCodeBlock, mdHtml, mdTable, mdText } from './markdown.ts';
import { tableCells, withoutCode } from './testdata/markdown-structure.ts';

describe('mdText', () => {
  it('escapes what would become a link, an image, emphasis, code, strikethrough, maths or raw HTML', () => {
    expect(mdText('[x](http://e.test) ![i](y) *b* _u_ `c` ~~s~~ $m$ \\ <script>a & b</script>')).toBe(
      '\\[x\\](http://e.test) !\\[i\\](y) \\*b\\* \\_u\\_ \\`c\\` \\~\\~s\\~\\~ \\$m\\$ \\\\ &lt;script&gt;a &amp; b&lt;/script&gt;',
    );
  });

  it('escapes what would start a heading, list, quote or numbered list at the start of a line, and folds line breaks', () => {
    expect(mdText('# h')).toBe('\\# h');
    expect(mdText('- item')).toBe('\\- item');
    expect(mdText('+ item')).toBe('\\+ item');
    expect(mdText('12. item')).toBe('12\\. item');
    expect(mdText('> quote')).toBe('&gt; quote');
    expect(mdText('a\n# b\r\nc')).toBe('a # b c');
    expect(mdText('p95 - 3')).toBe('p95 - 3');
  });
});

describe('mdCell', () => {
  it('escapes pipes, so a value cannot add a column', () => {
    expect(tableCells(`| ${mdCell('a | b')} | ${mdCell('c')} |`)).toEqual(['a \\| b', 'c']);
  });

  it('never leaves a cell empty (an empty cell can shift columns in some renderers)', () => {
    expect(mdCell('')).toBe(' ');
  });
});

describe('mdCode', () => {
  it('fences with more backticks than the text has in a row, so no backtick inside ends the span', () => {
    expect(mdCode('a``b')).toBe('```a``b```');
    expect(mdCode('`x`')).toBe('`` `x` ``');
    expect(mdCode('sum(rate(x[5m]))')).toBe('`sum(rate(x[5m]))`');
  });

  it('escapes pipes inside a table cell, where GFM splits cells before it reads code spans', () => {
    expect(mdCode('a|b', { inTable: true })).toBe('`a\\|b`');
    expect(tableCells(`| ${mdCode('x{a=~"b|c"}', { inTable: true })} | d |`)).toHaveLength(2);
  });
});

describe('mdCodeBlock', () => {
  it('uses a fence longer than any backtick run inside, so the text cannot close the block', () => {
    const block = mdCodeBlock('a\n```\nb', 'promql');
    expect(block).toBe('````promql\na\n```\nb\n````');
  });
});

describe('mdTable', () => {
  it('escapes every cell and keeps the column count whatever the values hold', () => {
    const table = mdTable(['A', 'B'], [['x | y', '<b>'], ['z', 'w\nv']]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(tableCells(line)).toHaveLength(2);
    expect(table).toContain('&lt;b&gt;');
  });
});

describe('withoutCode (the test helper the Markdown view tests rely on)', () => {
  it('removes code blocks and code spans, and only them', () => {
    expect(withoutCode('a `x<y` b ``c`d`` e\n```promql\n<z>\n```\nf')).toBe('a  b  e\nf');
  });
});

describe('control characters', () => {
  it('are written as visible \\uNNNN in text, code spans and code blocks, so the file is safe to print on a terminal', () => {
    expect(mdText('a\u001b[31mb')).toBe('a\\\\u001b\\[31mb');
    expect(mdCode('a\u001bb')).toBe('`a\\u001bb`');
    expect(mdCodeBlock('a\u0007\tb')).toBe('```\na\\u0007\tb\n```');
  });
});

describe('mdHtml', () => {
  it('writes HTML and Markdown punctuation as character references, for text inside <summary>', () => {
    expect(mdHtml(`<b> & "q" 'a' *e* _u_ [l](x) \`c\` $m$ | # ~`)).toBe(
      '&#60;b&#62; &#38; &#34;q&#34; &#39;a&#39; &#42;e&#42; &#95;u&#95; &#91;l&#93;(x) &#96;c&#96; &#36;m&#36; &#124; &#35; &#126;',
    );
  });
});
