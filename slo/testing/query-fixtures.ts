/**
 * Test support: PromQL written with `$window`, shared by the offline check's unit test and the
 * evaluator's integration test, which sends them to a real Prometheus to prove the offline check
 * agrees with Prometheus's parser where it claims to.
 */

/** Well-formed SLO queries: the offline check accepts them and so does Prometheus. */
export const VALID_QUERIES: readonly string[] = [
  'sum(rate(http_requests_total{status=~"5.."}[$window])) / sum(rate(http_requests_total[$window]))',
  'histogram_quantile(0.99, sum by (le) (increase(http_request_duration_seconds_bucket{job="api"}[$window])))',
  'sum(increase(x[$window])) by (route) > bool 3',
  'max_over_time(rate(x[1m])[$window:1s])',
  'quantile_over_time(0.9, x{a="b",}[$window] offset 1m)',
  'sum(x @ 100 offset 1m) + sum(rate(y[$window] @ end() offset 5s)) - max_over_time(rate(z[1m])[$window:1s] offset 1m)',
  'label_replace(sum(increase(x[$window])), "dst", "$1", "src", "(.*)")',
  'count_over_time(up{job="k6"}[$window]) * on (instance) group_left max by (instance) (y)',
  'sum(increase({__name__=~"k6_.*_total"}[$window] @ end()))',
];

export interface InvalidQuery {
  what: string;
  expr: string;
  /** What the offline check says. */
  message: RegExp;
  /** Prometheus (or the client, for a range-vector result) rejects it too; false when it is valid PromQL that is wrong for an SLO. */
  rejectedByPrometheus: boolean;
}

export const INVALID_QUERIES: readonly InvalidQuery[] = [
  { what: 'unbalanced parenthesis', expr: 'sum(rate(x[$window])))', message: /without a matching "\("/, rejectedByPrometheus: true },
  { what: 'unclosed brace', expr: 'sum(rate(x{job="a"[$window]))', message: /separated by "," and closed by "}"/, rejectedByPrometheus: true },
  { what: 'unterminated string', expr: 'sum(rate(x{job="a}[$window]))', message: /unterminated string/, rejectedByPrometheus: true },
  { what: 'unknown function', expr: 'summ(rate(x[$window]))', message: /unknown function summ\(\)/, rejectedByPrometheus: true },
  { what: 'range function without a range', expr: 'sum(rate(x))', message: /rate\(\) needs a range vector.*\[\$window\]/, rejectedByPrometheus: true },
  { what: 'range given to an aggregation', expr: 'sum(x[$window])', message: /inside sum\(\), which takes an instant vector/, rejectedByPrometheus: true },
  { what: 'range at top level', expr: 'x[$window]', message: /outside a range function/, rejectedByPrometheus: true },
  { what: 'misspelt placeholder', expr: 'sum(rate(x[$windw]))', message: /unknown placeholder \$windw/, rejectedByPrometheus: true },
  { what: 'placeholder outside a range', expr: 'sum(rate(x[5m])) > $window', message: /belongs inside a range/, rejectedByPrometheus: true },
  { what: 'bad duration', expr: 'sum(rate(x[5 minutes]))', message: /must be \[\$window\] or a duration/, rejectedByPrometheus: true },
  { what: 'bad label name', expr: 'sum(rate(x{1job="a"}[$window]))', message: /not a valid label name/, rejectedByPrometheus: true },
  { what: 'unquoted label value', expr: 'sum(rate(x{job=a}[$window]))', message: /needs a quoted value/, rejectedByPrometheus: true },
  { what: 'bad matcher operator', expr: 'sum(rate(x{job=="a"}[$window]))', message: /needs one of =, !=, =~, !~/, rejectedByPrometheus: true },
  { what: 'bad label in by()', expr: 'sum by (le-x) (rate(x[$window]))', message: /label names must be separated/, rejectedByPrometheus: true },
  { what: 'offset after a function call', expr: 'quantile_over_time(0.9, x[$window]) offset 1m', message: /"offset" must follow a series selector/, rejectedByPrometheus: true },
  { what: '@ after a function call', expr: 'sum(increase(x[$window])) @ end()', message: /"@" must follow a series selector/, rejectedByPrometheus: true },
  { what: 'stray character', expr: 'sum(rate(x[$window])) ; drop', message: /unexpected character ";"/, rejectedByPrometheus: true },
  { what: 'empty query', expr: '  ', message: /empty/, rejectedByPrometheus: true },
  { what: 'no $window at all', expr: 'sum(rate(x[5m]))', message: /never uses \[\$window\]/, rejectedByPrometheus: false },
];
