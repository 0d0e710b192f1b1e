import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xmlAttr, xmlText } from './xml.ts';
import { openXmlParser, type XmlParser } from './testdata/xml-parser.ts';

let parser: XmlParser;
beforeAll(async () => {
  parser = await openXmlParser();
});
afterAll(async () => {
  await parser?.close();
});

/** Round trip through a real XML parser: what a CI system reads back. */
async function roundTrip(value: string): Promise<{ double?: string; single?: string; text: string }> {
  const root = await parser.parse(`<?xml version="1.0" encoding="UTF-8"?><r a="${xmlAttr(value)}" b='${xmlAttr(value)}'>${xmlText(value)}</r>`);
  return { double: root.attrs.a, single: root.attrs.b, text: root.text };
}

describe('xmlText and xmlAttr', () => {
  it('give back exactly the markup characters, line breaks and tabs they were given', async () => {
    const value = `<script>alert("x")</script> & 'q' ]]> a\r\nb\tc`;
    expect(await roundTrip(value)).toEqual({ double: value, single: value, text: value });
  });

  it('write characters XML 1.0 forbids (ESC, BEL, NUL, a lone surrogate) as visible \\uNNNN, keeping the file parseable', async () => {
    const parsed = await roundTrip(`a\u001b[31mb\u0007c\u0000d\ud800e`);
    expect(parsed.text).toBe('a\\u001b[31mb\\u0007c\\u0000d\\ud800e');
    expect(parsed.double).toBe(parsed.text);
  });

  it('keep non-ASCII text and characters beyond the BMP as they are', async () => {
    const value = 'p95 ≥ 99 % — 🚀 ünïcode';
    expect(await roundTrip(value)).toEqual({ double: value, single: value, text: value });
  });

  it('are needed: the parser rejects the same characters unescaped (the test above can fail)', async () => {
    await expect(parser.parse('<r>a\u001bb</r>')).rejects.toThrow(/not well-formed/);
    await expect(parser.parse('<r a="<"/>')).rejects.toThrow(/not well-formed/);
  });
});
