import type { SloDefinition } from './types.ts';
import { WINDOW_PLACEHOLDER } from './promql.ts';

/**
 * Offline check of SLO queries, run before anything starts (`resilience plan` and `run`).
 *
 * This is not a PromQL parser: it is a lexer plus the checks that catch the mistakes people make
 * in SLO files — unbalanced brackets and quotes, misspelt functions, a range function without
 * `[$window]`, a range where an instant vector belongs, malformed metric or label names and
 * matchers, placeholders other than `$window`. An expression it accepts can still be rejected by
 * Prometheus (the evaluator then reports the query error as inconclusive). A real parser can
 * replace the internals of `checkSloQueries` without changing its callers.
 */

export interface QueryProblem {
  /** The SLO's name. */
  slo: string;
  /** The SLO field the problem is in: "good", "total", "histogram", "matchers", "quantile", "expr", "samples". */
  field: string;
  /** One sentence, naming what is wrong and where. */
  message: string;
}

/** Problems in the SLOs' queries; empty when every query looks well-formed. Pure, starts nothing. */
export function checkSloQueries(slos: readonly SloDefinition[]): QueryProblem[] {
  const problems: QueryProblem[] = [];
  const add = (slo: SloDefinition, field: string, messages: string[]): void => {
    for (const message of messages) problems.push({ slo: slo.name, field, message });
  };
  for (const slo of slos) {
    switch (slo.kind) {
      case 'ratio':
        add(slo, 'good', checkSelector(slo.good));
        add(slo, 'total', checkSelector(slo.total));
        break;
      case 'latency':
        add(slo, 'histogram', checkHistogramName(slo.histogram));
        if (slo.matchers !== undefined && slo.matchers.trim() !== '') add(slo, 'matchers', checkMatcherList(slo.matchers));
        if (!(slo.quantile > 0 && slo.quantile < 1)) add(slo, 'quantile', [`quantile must be between 0 and 1 (exclusive), got ${slo.quantile}`]);
        break;
      case 'query':
        add(slo, 'expr', checkWindowedExpression(slo.expr));
        add(slo, 'samples', checkWindowedExpression(slo.samples));
        break;
    }
  }
  return problems;
}

// ---- names ---------------------------------------------------------------------------------

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const DURATION = String.raw`(?:\d+(?:ms|s|m|h|d|w|y))+`;
const RANGE_CONTENT = new RegExp(String.raw`^\s*(?:\$window|${DURATION})\s*(?::\s*(?:${DURATION})?\s*)?$`);

/** Functions of Prometheus 2.42 (the version the harness runs) plus `start`/`end` of the `@` modifier. */
const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'avg_over_time', 'ceil',
  'changes', 'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh', 'count_over_time', 'day_of_month', 'day_of_week',
  'day_of_year', 'days_in_month', 'deg', 'delta', 'deriv', 'end', 'exp', 'floor', 'histogram_count',
  'histogram_fraction', 'histogram_quantile', 'histogram_sum', 'holt_winters', 'hour', 'idelta', 'increase', 'irate',
  'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'max_over_time', 'min_over_time', 'minute',
  'month', 'pi', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rad', 'rate', 'resets', 'round',
  'scalar', 'sgn', 'sin', 'sinh', 'sort', 'sort_desc', 'sqrt', 'start', 'stddev_over_time', 'stdvar_over_time',
  'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year',
]);
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);
/** Functions whose (first range) argument is a range vector: `rate(x[5m])`. */
const RANGE_FUNCTIONS = new Set([
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'predict_linear', 'resets', 'changes', 'holt_winters',
  'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'quantile_over_time',
  'stddev_over_time', 'stdvar_over_time', 'last_over_time', 'present_over_time', 'absent_over_time',
]);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const OPERATOR_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'atan2', 'offset']);
const MATCH_OPERATORS = new Set(['=', '!=', '=~', '!~']);

// ---- lexer ---------------------------------------------------------------------------------

type Token =
  | { kind: 'ident'; text: string; at: number }
  | { kind: 'number'; text: string; at: number }
  | { kind: 'duration'; text: string; at: number }
  | { kind: 'string'; text: string; at: number }
  | { kind: 'placeholder'; text: string; at: number }
  | { kind: 'range'; text: string; at: number }
  | { kind: 'punct'; text: string; at: number }
  | { kind: 'op'; text: string; at: number };

const OPERATORS = ['=~', '!~', '!=', '==', '<=', '>=', '=', '<', '>', '+', '-', '*', '/', '%', '^', '@'];

function lex(expr: string): { tokens: Token[]; errors: string[] } {
  const tokens: Token[] = [];
  const errors: string[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr.charAt(i);
    const rest = expr.slice(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      const end = expr.indexOf('\n', i);
      i = end === -1 ? expr.length : end;
    } else if (c === '"' || c === "'" || c === '`') {
      const end = findStringEnd(expr, i);
      if (end === -1) {
        errors.push(`unterminated string starting at column ${i + 1}: ${snippet(expr, i)}`);
        return { tokens, errors };
      }
      tokens.push({ kind: 'string', text: expr.slice(i, end + 1), at: i });
      i = end + 1;
    } else if (c === '$') {
      const name = /^\$[a-zA-Z_]\w*/.exec(rest)?.[0] ?? '$';
      if (name !== WINDOW_PLACEHOLDER) errors.push(`unknown placeholder ${name} at column ${i + 1}: only ${WINDOW_PLACEHOLDER} is substituted`);
      tokens.push({ kind: 'placeholder', text: name, at: i });
      i += name.length;
    } else if (c === '[') {
      const end = expr.indexOf(']', i);
      const nextOpen = expr.indexOf('[', i + 1);
      if (end === -1 || (nextOpen !== -1 && nextOpen < end)) {
        errors.push(`unclosed "[" at column ${i + 1}: ${snippet(expr, i)}`);
        return { tokens, errors };
      }
      tokens.push({ kind: 'range', text: expr.slice(i + 1, end), at: i });
      i = end + 1;
    } else if (/^[a-zA-Z_:]/.test(c)) {
      const text = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest)?.[0] ?? c;
      tokens.push({ kind: 'ident', text, at: i });
      i += text.length;
    } else if (/^(?:\d|\.\d)/.test(rest)) {
      const duration = new RegExp(`^${DURATION}`).exec(rest)?.[0];
      const number = /^(?:0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?)/.exec(rest)?.[0] ?? c;
      if (duration !== undefined && duration.length > number.length) {
        tokens.push({ kind: 'duration', text: duration, at: i });
        i += duration.length;
      } else {
        tokens.push({ kind: 'number', text: number, at: i });
        i += number.length;
      }
    } else if ('(){},]'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, at: i });
      i++;
    } else {
      const op = OPERATORS.find((candidate) => rest.startsWith(candidate));
      if (op === undefined) {
        errors.push(`unexpected character ${JSON.stringify(c)} at column ${i + 1}: ${snippet(expr, i)}`);
        return { tokens, errors };
      }
      tokens.push({ kind: 'op', text: op, at: i });
      i += op.length;
    }
  }
  return { tokens, errors };
}

function findStringEnd(expr: string, start: number): number {
  const quote = expr.charAt(start);
  for (let i = start + 1; i < expr.length; i++) {
    const c = expr.charAt(i);
    if (c === '\\' && quote !== '`') i++;
    else if (c === quote) return i;
  }
  return -1;
}

function snippet(expr: string, at: number): string {
  const text = expr.slice(Math.max(0, at - 15), at + 25).replace(/\s+/g, ' ');
  return `…${text}…`;
}

// ---- checks --------------------------------------------------------------------------------

interface Frame {
  /** The function or aggregation this parenthesis belongs to; undefined for a grouping paren. */
  fn: string | undefined;
  at: number;
  sawRange: boolean;
}

/**
 * Walks the tokens and reports the first syntax problem (later ones are mostly its echoes); the
 * shape of the whole is checked by the callers.
 */
function checkTokens(expr: string, tokens: Token[]): string[] {
  const errors: string[] = [];
  const stack: Frame[] = [];
  // `sum by (le) (…)`: the aggregation's parenthesis comes after its label list.
  let pendingAggregation: { name: string; at: number } | undefined;
  for (let i = 0; i < tokens.length && errors.length === 0; i++) {
    const token = tokens[i];
    if (token === undefined) break;
    const next = tokens[i + 1];
    const where = `at column ${token.at + 1}: ${snippet(expr, token.at)}`;
    switch (token.kind) {
      case 'ident': {
        const name = token.text;
        if (LABEL_LIST_KEYWORDS.has(name)) {
          if (next?.kind === 'punct' && next.text === '(') {
            const { end, errors: listErrors } = checkLabelList(expr, tokens, i + 1);
            errors.push(...listErrors);
            i = end;
          } else if (name !== 'group_left' && name !== 'group_right') {
            errors.push(`"${name}" must be followed by a label list in parentheses ${where}`);
          }
        } else if (AGGREGATIONS.has(name) && next?.kind === 'ident' && (next.text === 'by' || next.text === 'without')) {
          pendingAggregation = { name, at: token.at };
        } else if (next?.kind === 'punct' && next.text === '(') {
          if (!FUNCTIONS.has(name) && !AGGREGATIONS.has(name)) errors.push(`unknown function ${name}() ${where}`);
          stack.push({ fn: name, at: token.at, sawRange: false });
          i++;
        } else if (OPERATOR_KEYWORDS.has(name)) {
          if (name === 'offset' && !precededBySelector(tokens, i)) {
            errors.push(`"offset" must follow a series selector, a range or a subquery, not a function call: move it inside, as x[${WINDOW_PLACEHOLDER}] offset 1m ${where}`);
          } else if (name === 'offset' && next?.kind !== 'duration' && next?.kind !== 'placeholder' && !(next?.kind === 'op' && next.text === '-')) {
            errors.push(`"offset" must be followed by a duration ${where}`);
          }
        } else if (/^(?:inf|nan)$/i.test(name)) {
          // number literals
        } else if (!METRIC_NAME.test(name)) {
          errors.push(`"${name}" is not a valid metric name ${where}`);
        } else if (next?.kind === 'punct' && next.text === '{') {
          const { end, errors: matcherErrors } = checkMatchers(expr, tokens, i + 1);
          errors.push(...matcherErrors);
          i = end;
        }
        break;
      }
      case 'punct':
        if (token.text === '{') {
          const { end, errors: matcherErrors } = checkMatchers(expr, tokens, i);
          errors.push(...matcherErrors);
          i = end;
        } else if (token.text === '(') {
          stack.push({ fn: pendingAggregation?.name, at: pendingAggregation?.at ?? token.at, sawRange: false });
          pendingAggregation = undefined;
        } else if (token.text === ')') {
          const frame = stack.pop();
          if (frame === undefined) {
            errors.push(`")" without a matching "(" ${where}`);
          } else if (frame.fn !== undefined && RANGE_FUNCTIONS.has(frame.fn) && !frame.sawRange) {
            errors.push(`${frame.fn}() needs a range vector: write ${frame.fn}(metric[${WINDOW_PLACEHOLDER}]) (at column ${frame.at + 1}: ${snippet(expr, frame.at)})`);
          }
        } else if (token.text === '}' || token.text === ']') {
          errors.push(`"${token.text}" without a matching opening bracket ${where}`);
        }
        break;
      case 'range': {
        const placeholder = /\$[a-zA-Z_]\w*/.exec(token.text)?.[0];
        if (placeholder !== undefined && placeholder !== WINDOW_PLACEHOLDER) {
          errors.push(`unknown placeholder ${placeholder} ${where}: only ${WINDOW_PLACEHOLDER} is substituted`);
        } else if (!RANGE_CONTENT.test(token.text)) {
          errors.push(`range [${token.text}] must be [${WINDOW_PLACEHOLDER}] or a duration like [5m] (or a subquery [${WINDOW_PLACEHOLDER}:1s]) ${where}`);
        }
        const frame = stack.at(-1);
        const known = frame?.fn === undefined || FUNCTIONS.has(frame.fn) || AGGREGATIONS.has(frame.fn);
        if (!known) {
          // already reported as an unknown function; one message per mistake
        } else if (frame?.fn === undefined || !RANGE_FUNCTIONS.has(frame.fn)) {
          const inside = frame?.fn !== undefined ? `inside ${frame.fn}(), which takes an instant vector` : 'outside a range function (an instant query must return an instant vector)';
          errors.push(`range [${token.text}] is ${inside}; wrap it in a function such as increase() or rate() ${where}`);
        } else {
          frame.sawRange = true;
        }
        break;
      }
      case 'placeholder': {
        const previous = tokens[i - 1];
        if (token.text === WINDOW_PLACEHOLDER && !(previous?.kind === 'ident' && previous.text === 'offset')) {
          errors.push(`${WINDOW_PLACEHOLDER} belongs inside a range, as [${WINDOW_PLACEHOLDER}] ${where}`);
        }
        break;
      }
      case 'op':
        if (token.text === '@' && !precededBySelector(tokens, i)) {
          errors.push(`"@" must follow a series selector, a range or a subquery, not a function call ${where}`);
        }
        break;
      default:
        break;
    }
  }
  const unclosed = stack.at(-1);
  if (errors.length === 0 && unclosed !== undefined) errors.push(`"(" is never closed (at column ${unclosed.at + 1}: ${snippet(expr, unclosed.at)})`);
  return errors;
}

/**
 * Modifiers (`offset`, `@`) apply to a selector, a range or a subquery: the token before the
 * modifier at `index` must end one of those, or be the argument of a modifier that does
 * (`x @ 100 offset 1m`, `x @ end() offset 1m`).
 */
function precededBySelector(tokens: Token[], index: number): boolean {
  const previous = tokens[index - 1];
  if (previous === undefined) return false;
  if (previous.kind === 'range') return true;
  if (previous.kind === 'punct' && previous.text === '}') return true;
  if (previous.kind === 'ident') return !LABEL_LIST_KEYWORDS.has(previous.text) && !OPERATOR_KEYWORDS.has(previous.text);
  const isModifier = (t: Token | undefined): boolean => (t?.kind === 'op' && t.text === '@') || (t?.kind === 'ident' && t.text === 'offset');
  if (previous.kind === 'number' || previous.kind === 'duration' || previous.kind === 'placeholder') {
    return isModifier(tokens[index - 2]) && precededBySelector(tokens, index - 2);
  }
  if (previous.kind === 'punct' && previous.text === ')') {
    const fn = tokens[index - 3];
    return tokens[index - 2]?.text === '(' && (fn?.text === 'start' || fn?.text === 'end') && isModifier(tokens[index - 4]) && precededBySelector(tokens, index - 4);
  }
  return false;
}

/** Checks `{ name op "value", … }` starting at tokens[open] === '{'; returns the index of '}'. */
function checkMatchers(expr: string, tokens: Token[], open: number): { end: number; errors: string[] } {
  const start = tokens[open]?.at ?? 0;
  const where = `at column ${start + 1}: ${snippet(expr, start)}`;
  let i = open + 1;
  for (;;) {
    const name = tokens[i];
    if (name === undefined) return { end: tokens.length, errors: [`"{" is never closed ${where}`] };
    if (name.kind === 'punct' && name.text === '}') return { end: i, errors: [] };
    const op = tokens[i + 1];
    const value = tokens[i + 2];
    if (name.kind !== 'ident' || !LABEL_NAME.test(name.text)) {
      return { end: skipTo(tokens, i, '}'), errors: [`"${name.text}" is not a valid label name in a matcher ${where}`] };
    }
    if (op?.kind !== 'op' || !MATCH_OPERATORS.has(op.text)) {
      return { end: skipTo(tokens, i, '}'), errors: [`label matcher for "${name.text}" needs one of =, !=, =~, !~ ${where}`] };
    }
    if (value?.kind !== 'string') {
      return { end: skipTo(tokens, i, '}'), errors: [`label matcher ${name.text}${op.text} needs a quoted value ${where}`] };
    }
    const separator = tokens[i + 3];
    if (separator?.kind === 'punct' && separator.text === ',') {
      i += 4;
    } else if (separator?.kind === 'punct' && separator.text === '}') {
      return { end: i + 3, errors: [] };
    } else {
      return { end: skipTo(tokens, i, '}'), errors: [`label matchers must be separated by "," and closed by "}" ${where}`] };
    }
  }
}

/** Checks `( label, … )` starting at tokens[open] === '('; returns the index of ')'. */
function checkLabelList(expr: string, tokens: Token[], open: number): { end: number; errors: string[] } {
  const start = tokens[open]?.at ?? 0;
  const where = `at column ${start + 1}: ${snippet(expr, start)}`;
  let i = open + 1;
  let expectLabel = true;
  for (;;) {
    const token = tokens[i];
    if (token === undefined) return { end: tokens.length, errors: [`label list "(" is never closed ${where}`] };
    if (token.kind === 'punct' && token.text === ')') return { end: i, errors: [] };
    if (expectLabel) {
      if (token.kind !== 'ident' || !LABEL_NAME.test(token.text)) {
        return { end: skipTo(tokens, i, ')'), errors: [`"${token.text}" is not a valid label name in a label list ${where}`] };
      }
    } else if (!(token.kind === 'punct' && token.text === ',')) {
      return { end: skipTo(tokens, i, ')'), errors: [`label names must be separated by "," ${where}`] };
    }
    expectLabel = !expectLabel;
    i++;
  }
}

function skipTo(tokens: Token[], from: number, close: string): number {
  for (let i = from; i < tokens.length; i++) {
    const token = tokens[i];
    if (token?.kind === 'punct' && token.text === close) return i;
  }
  return tokens.length;
}

function checkExpression(expr: string): { tokens: Token[]; errors: string[] } {
  if (expr.trim() === '') return { tokens: [], errors: ['the query is empty'] };
  const { tokens, errors } = lex(expr);
  if (errors.length > 0) return { tokens, errors };
  return { tokens, errors: checkTokens(expr, tokens) };
}

/** A query SLO's expression: well-formed and judged on the phase's own data, so it uses `$window`. */
function checkWindowedExpression(expr: string): string[] {
  const { tokens, errors } = checkExpression(expr);
  if (errors.length > 0) return errors;
  if (!tokens.some((t) => t.kind === 'range' && t.text.includes(WINDOW_PLACEHOLDER))) {
    return [`the query never uses [${WINDOW_PLACEHOLDER}], so it would not be judged on the phase's own data: ${snippet(expr, 0)}`];
  }
  return [];
}

/** A series selector: `metric`, `metric{matchers}` or `{matchers}`, nothing more. */
function checkSelector(selector: string): string[] {
  const { tokens, errors } = checkExpression(selector);
  if (errors.length > 0) return errors;
  const first = tokens[0];
  const hasName = first?.kind === 'ident';
  const bracesAt = hasName ? 1 : 0;
  const brace = tokens[bracesAt];
  const end = brace?.kind === 'punct' && brace.text === '{' ? skipTo(tokens, bracesAt, '}') + 1 : bracesAt;
  if (hasName && (LABEL_LIST_KEYWORDS.has(first.text) || OPERATOR_KEYWORDS.has(first.text))) {
    return [`"${first.text}" is a PromQL keyword, not a metric name: ${snippet(selector, 0)}`];
  }
  if (end === 0 || end < tokens.length) {
    return [`must be a series selector like metric{label="value"} (no functions, ranges or operators): ${snippet(selector, 0)}`];
  }
  return [];
}

function checkHistogramName(name: string): string[] {
  if (!METRIC_NAME.test(name)) return [`"${name}" is not a valid metric name`];
  if (/_(bucket|count|sum)$/.test(name)) return [`give the histogram's base name without the _bucket/_count/_sum suffix: "${name}"`];
  return [];
}

/** `job="x", route=~"/api.*"`: matchers without braces. */
function checkMatcherList(matchers: string): string[] {
  const wrapped = `{${matchers}}`;
  const { tokens, errors } = lex(wrapped);
  if (errors.length > 0) return errors;
  const { end, errors: matcherErrors } = checkMatchers(wrapped, tokens, 0);
  if (matcherErrors.length > 0) return matcherErrors;
  if (end !== tokens.length - 1) return [`must be label matchers only, like job="x", route=~"/api.*" (without braces): ${matchers}`];
  return [];
}
