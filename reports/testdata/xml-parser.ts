import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * A real, strict XML 1.0 parser for tests: Chromium's DOMParser (libxml2), which rejects what a
 * CI system's JUnit parser would reject. The document comes back as a plain tree.
 */

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** The element's own text (text and CDATA children, concatenated). */
  text: string;
}

export interface XmlParser {
  /** The document element as a tree; rejects with the parser's message when the XML is not well-formed. */
  parse(xml: string): Promise<XmlNode>;
  close(): Promise<void>;
}

/** Runs in the page. A string, because the project's TypeScript has no DOM types. */
const PARSE_IN_PAGE = `(xml) => {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const error = doc.getElementsByTagName('parsererror')[0];
  if (error) return { error: error.textContent };
  const walk = (el) => ({
    name: el.nodeName,
    attrs: Object.fromEntries([...el.attributes].map((a) => [a.name, a.value])),
    children: [...el.children].map(walk),
    text: [...el.childNodes].filter((n) => n.nodeType === 3 || n.nodeType === 4).map((n) => n.nodeValue).join(''),
  });
  return { root: walk(doc.documentElement) };
}`;

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function openXmlParser(): Promise<XmlParser> {
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
  const page: Page = await browser.newPage();
  return {
    async parse(xml) {
      const out = await page.evaluate<{ error?: string; root?: XmlNode }>(`(${PARSE_IN_PAGE})(${JSON.stringify(xml)})`);
      if (out.error !== undefined || !out.root) throw new Error(`not well-formed XML: ${out.error ?? 'no document element'}`);
      return out.root;
    },
    close: () => browser.close(),
  };
}

/** Every element named `name` under `node` (itself included), depth first. */
export function findAll(node: XmlNode, name: string): XmlNode[] {
  return [...(node.name === name ? [node] : []), ...node.children.flatMap((c) => findAll(c, name))];
}
