// Part of the k6 TEST DOUBLE (see README.md): a minimal Prometheus remote-write 1.0 client, enough
// to push what k6's experimental-prometheus-rw output pushes: counters as float samples and
// request durations as native histograms. Hand-written protobuf (prompb/types.proto, remote.proto)
// and snappy block format with literals only (valid snappy, just not compressed), so the double
// needs no dependency.

/** Protobuf writer for the few wire types the remote-write messages use. */
class Writer {
  bytes = [];
  varint(value) {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
    return this;
  }
  tag(field, wireType) {
    return this.varint((field << 3) | wireType);
  }
  uint(field, value) {
    return this.tag(field, 0).varint(value);
  }
  /** sint32/sint64: zigzag. */
  sint(field, value) {
    return this.tag(field, 0).varint(zigzag(value));
  }
  double(field, value) {
    const buffer = Buffer.alloc(8);
    buffer.writeDoubleLE(value);
    this.tag(field, 1);
    this.bytes.push(...buffer);
    return this;
  }
  bytesField(field, data) {
    this.tag(field, 2).varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }
  string(field, text) {
    return this.bytesField(field, Buffer.from(text, 'utf8'));
  }
  message(field, writer) {
    return this.bytesField(field, writer.bytes);
  }
  finish() {
    return Uint8Array.from(this.bytes);
  }
}

function zigzag(value) {
  const v = BigInt(value);
  return v >= 0n ? v * 2n : -v * 2n - 1n;
}

/**
 * A native histogram (schema 0: bucket i holds values in (2^(i-1), 2^i]) of `values` (seconds),
 * cumulative since the start, as prompb.Histogram.
 */
export function nativeHistogram(values, timestampMs) {
  const counts = new Map();
  let zeroCount = 0;
  let sum = 0;
  for (const v of values) {
    sum += v;
    if (v <= 1e-9) zeroCount++;
    else {
      const index = Math.ceil(Math.log2(v));
      counts.set(index, (counts.get(index) ?? 0) + 1);
    }
  }
  const w = new Writer().uint(1, values.length).double(3, sum).sint(4, 0).double(5, 1e-9).uint(6, zeroCount);
  if (counts.size > 0) {
    const min = Math.min(...counts.keys());
    const max = Math.max(...counts.keys());
    w.message(11, new Writer().sint(1, min).uint(2, max - min + 1));
    const deltas = new Writer();
    let previous = 0;
    for (let i = min; i <= max; i++) {
      const count = counts.get(i) ?? 0;
      deltas.varint(zigzag(count - previous));
      previous = count;
    }
    w.bytesField(12, deltas.bytes);
  }
  return w.uint(15, timestampMs);
}

/**
 * WriteRequest bytes for `series`: [{ labels: {__name__, …}, samples?: [{value, timestampMs}], histograms?: [Writer] }].
 */
export function encodeWriteRequest(series) {
  const request = new Writer();
  for (const s of series) {
    const ts = new Writer();
    for (const [name, value] of Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) ts.message(1, new Writer().string(1, name).string(2, value));
    for (const sample of s.samples ?? []) ts.message(2, new Writer().double(1, sample.value).uint(2, sample.timestampMs));
    for (const histogram of s.histograms ?? []) ts.message(4, histogram);
    request.message(1, ts);
  }
  return request.finish();
}

/** Snappy block format, literals only. */
export function snappyLiterals(data) {
  const out = new Writer().varint(data.length);
  for (let offset = 0; offset < data.length; offset += 65536) {
    const chunk = data.subarray(offset, Math.min(offset + 65536, data.length));
    const n = chunk.length - 1;
    if (n < 60) out.bytes.push(n << 2);
    else if (n < 256) out.bytes.push(60 << 2, n);
    else out.bytes.push(61 << 2, n & 0xff, n >> 8);
    for (const b of chunk) out.bytes.push(b);
  }
  return out.finish();
}

/** POSTs the series to `<url>` (…/api/v1/write); throws with Prometheus's answer when it refuses them. */
export async function pushSeries(url, series) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
    body: snappyLiterals(encodeWriteRequest(series)),
    signal: AbortSignal.timeout(5_000),
  });
  if (response.status >= 300) throw new Error(`remote write to ${url}: HTTP ${response.status} ${(await response.text()).trim()}`);
}
