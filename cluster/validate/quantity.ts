/**
 * Kubernetes resource quantities ("100m", "1.5", "128Mi", "1G", "2e3") as plain numbers: cores for
 * CPU, bytes for memory and storage. Returns undefined for a string that is not a quantity.
 */
export function parseQuantity(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/.exec(value.trim());
  if (!match) return undefined;
  const number = Number(match[1]);
  if (match[2]) return number * 10 ** Number(match[2].slice(1));
  const suffix = match[3];
  return suffix === undefined ? number : number * (SUFFIXES[suffix] ?? 1);
}

const SUFFIXES: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A quantity for a message: CPU as cores or millicores, bytes with a binary suffix, counts as is. */
export function formatQuantity(resource: string, value: number): string {
  if (/(^|\.)cpu$/.test(resource)) return value < 1 && value > 0 ? `${round(value * 1000)}m` : `${round(value)}`;
  if (/(^|\.)(memory|storage|ephemeral-storage)$/.test(resource)) {
    for (const [suffix, size] of [['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
      if (value >= size) return `${round(value / size)}${suffix}`;
    }
    return `${round(value)}`;
  }
  return `${round(value)}`;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
