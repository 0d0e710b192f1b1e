import { parser } from '@prometheus-io/lezer-promql';
import type { SloDefinition } from './types.ts';
import { WINDOW_PLACEHOLDER, renderSloQueries } from './promql.ts';

/**
 * Offline check of SLO queries, run before anything starts (`resilience plan` and `run`): a bad
 * query stops the run with exit 2, naming the SLO, the field and the column of the mistake.
 *
 * Each query is rendered as the evaluator will render it (`$window` replaced by a duration) and
 * parsed by Prometheus's own grammar (@prometheus-io/lezer-promql, the parser of Prometheus's web
 * UI). Syntax errors come from the parser; their messages are derived from where the parser
 * stopped. On a tree without syntax errors a type check follows Prometheus 2.42's rules (the
 * version the harness runs): range vectors where an instant vector is needed and the reverse,
 * unknown functions and wrong argument counts, aggregations over numbers, binary operators on
 * ranges, modifiers on function calls. The grammar is newer than 2.42, so syntax 2.42 rejects
 * (duration arithmetic, quoted label names, `limitk` …) is reported too; `holt_winters`, which
 * 2.42 has and the grammar no longer knows, is accepted.
 *
 * Beyond PromQL: ratio SLOs need plain series selectors (the evaluator wraps them in increase()),
 * and a query SLO must use `[$window]` in `expr` and `samples`, or it would not be judged on each
 * phase's own data. At most one problem is reported per field: after the first mistake, the next
 * ones are mostly its echoes.
 */

export interface QueryProblem {
  /** The SLO's name. */
  slo: string;
  /** The SLO field the problem is in: "good", "total", "histogram", "matchers", "quantile", "expr", "samples", "alertSeverity", "alertnames". */
  field: string;
  /** One sentence naming the SLO, the field and the column, then what is wrong: `SLO "x", expr, column 5: unknown function summ()`. */
  message: string;
  /**
   * Where the problem is: 1-based position in the field's own text (its column when the text is
   * one line, as written in the config, before `$window` is substituted). Undefined for problems
   * of the whole field (a quantile out of range, a query that never uses `$window`).
   */
  position?: number;
}

/** Problems in the SLOs' queries; empty when every query is valid. Pure, starts nothing. */
export function checkSloQueries(slos: readonly SloDefinition[]): QueryProblem[] {
  const problems: QueryProblem[] = [];
  for (const slo of slos) {
    const add = (field: string, finding: Finding | undefined, text = ''): void => {
      if (finding !== undefined) problems.push(toProblem(slo.name, field, finding, text));
    };
    const before = problems.length;
    switch (slo.kind) {
      case 'ratio':
        add('good', checkSeriesSelector(slo.good), slo.good);
        add('total', checkSeriesSelector(slo.total), slo.total);
        break;
      case 'latency':
        add('histogram', checkHistogramName(slo.histogram));
        if (slo.matchers !== undefined && slo.matchers.trim() !== '') add('matchers', checkMatcherList(slo.matchers), slo.matchers);
        if (!(slo.quantile > 0 && slo.quantile < 1)) add('quantile', { message: `quantile must be between 0 and 1 (exclusive), got ${slo.quantile}` });
        break;
      case 'query':
        add('expr', checkWindowedQuery(slo.expr), slo.expr);
        add('samples', checkWindowedQuery(slo.samples), slo.samples);
        break;
      case 'alert':
        if (slo.alertSeverity.trim() === '') add('alertSeverity', { message: 'alertSeverity must name a severity label value, e.g. "critical"' });
        if (slo.alertnames !== undefined && slo.alertnames.some((name) => name.trim() === '')) {
          add('alertnames', { message: 'alert names must not be empty; leave alertnames out to count every alert of the severity' });
        }
        break;
    }
    // The queries built around valid fields are valid by construction; checking them anyway turns
    // a mistake in promql.ts into a config-time error instead of an inconclusive run. (A query
    // SLO's fields are its queries, checked above.)
    if (problems.length === before && slo.kind !== 'query') {
      for (const [name, query] of Object.entries(renderSloQueries(slo, 60))) {
        if (typeof query !== 'string') continue;
        const finding = analyse(query, { placeholders: 'none', result: 'instant' });
        if (finding !== undefined) add(`${name} query`, { message: `the rendered ${name} query is not valid PromQL (${finding.message}): ${query}` });
      }
    }
  }
  return problems;
}

/** A problem before it is attributed to an SLO: `at` is a 0-based offset in the field's text. */
interface Finding {
  message: string;
  at?: number;
}

function toProblem(slo: string, field: string, finding: Finding, text: string): QueryProblem {
  if (finding.at === undefined) return { slo, field, message: `SLO "${slo}", ${field}: ${finding.message}` };
  const at = Math.max(0, Math.min(finding.at, text.length));
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - before.lastIndexOf('\n');
  const where = line > 1 ? `line ${line}, column ${column}` : `column ${column}`;
  return { slo, field, message: `SLO "${slo}", ${field}, ${where}: ${finding.message}`, position: at + 1 };
}

// ---- fields ----------------------------------------------------------------------------------

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A query SLO's `expr` or `samples`: valid, a number or an instant vector, judged over `[$window]`. */
function checkWindowedQuery(text: string): Finding | undefined {
  return analyse(text, { placeholders: 'window', result: 'instant', requireWindow: true });
}

/** `metric`, `metric{matchers}` or `{matchers}`, nothing more: the evaluator wraps it in increase(). */
function checkSeriesSelector(text: string): Finding | undefined {
  return analyse(text, { placeholders: 'none', result: 'selector' });
}

function checkHistogramName(name: string): Finding | undefined {
  if (!METRIC_NAME.test(name)) return { message: `"${name}" is not a valid metric name` };
  if (/_(bucket|count|sum)$/.test(name)) return { message: `give the histogram's base name without the _bucket/_count/_sum suffix: "${name}"` };
  return undefined;
}

/** `job="x", route=~"/api.*"`: label matchers without braces, checked inside a selector. */
function checkMatcherList(matchers: string): Finding | undefined {
  const leading = matchers.length - matchers.trimStart().length;
  if (matchers.trim().startsWith('{')) return { message: 'give the label matchers without braces, like job="x", route=~"/api.*"', at: leading };
  const prefix = 'm{';
  return analyse(`${prefix}${matchers}}`, { placeholders: 'none', result: 'selector', shift: prefix.length });
}

// ---- analysis --------------------------------------------------------------------------------

interface AnalyseOptions {
  /** `window`: `$window` is substituted as the evaluator does; `none`: any placeholder is a mistake. */
  placeholders: 'window' | 'none';
  /** `instant`: a number or an instant vector; `selector`: a series selector only. */
  result: 'instant' | 'selector';
  /** A query SLO must use `[$window]`. */
  requireWindow?: boolean;
  /** Characters added in front of the field's text before parsing (the field starts this far in). */
  shift?: number;
}

/**
 * Checks one query: lexical scan, parse, placeholder placement, type check, `$window` use, in that
 * order, returning the first finding. Positions in findings are offsets in the field's own text.
 */
function analyse(text: string, options: AnalyseOptions): Finding | undefined {
  const shift = options.shift ?? 0;
  const field = text.slice(shift, options.shift === undefined ? undefined : text.length - 1);
  if (field.trim() === '') return { message: options.result === 'selector' ? 'the selector is empty' : 'the query is empty' };
  const lexical = scanLexically(text, options.placeholders);
  if (lexical !== undefined) return shiftFinding(lexical, shift, field.length);

  const rendered = renderWithPositions(text, options.placeholders === 'window');
  const query = new Query(rendered.text, (offset) => rendered.toOriginal(offset) - shift, text.slice(shift));
  try {
    query.checkSyntax();
    const placeholders = query.checkPlaceholders(rendered.placeholders);
    if (options.result === 'selector') query.requireSelector();
    const type = query.typeOfRoot();
    if (type === 'matrix') {
      throw query.rangeError(query.rootExpression(), 'is outside a range function (an instant query must return an instant vector)');
    } else if (type === 'string') {
      throw new QueryError('the query returns a string; an SLO query must return a number or an instant vector', query.rootExpression().from);
    }
    if (options.requireWindow && !placeholders.windowedRange) {
      return { message: `the query never uses [${WINDOW_PLACEHOLDER}], so it would not be judged on each phase's own data: write its range as [${WINDOW_PLACEHOLDER}], e.g. increase(x[${WINDOW_PLACEHOLDER}])` };
    }
    return undefined;
  } catch (error) {
    if (!(error instanceof QueryError)) throw error;
    return { message: error.message, at: Math.max(0, Math.min(query.toOriginal(error.at), field.length)) };
  }
}

function shiftFinding(finding: Finding, shift: number, length: number): Finding {
  return finding.at === undefined ? finding : { ...finding, at: Math.max(0, Math.min(finding.at - shift, length)) };
}

/** A mistake at `at`, an offset in the parsed (rendered) text. */
class QueryError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

// ---- lexical scan ----------------------------------------------------------------------------

const CLOSING: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
const UNCLOSED: Record<string, string> = {
  '(': '"(" is never closed',
  '[': `"[" is never closed: a range is written [${WINDOW_PLACEHOLDER}] or [5m]`,
  '{': '"{" is never closed: label matchers must be separated by "," and closed by "}"',
};
const PLAIN_CHARACTER = /[A-Za-z0-9_:.\s+\-*/%^=!<>~@,]/;

/**
 * What the parser reports poorly, found on the text as written: strings never closed, characters
 * that are not PromQL, placeholders other than `$window`, brackets that do not pair up.
 */
function scanLexically(text: string, placeholders: 'window' | 'none'): Finding | undefined {
  const open: { char: string; at: number }[] = [];
  for (let i = 0; i < text.length; ) {
    const c = text.charAt(i);
    if (c === '#') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end;
    } else if (c === '"' || c === "'" || c === '`') {
      const end = findStringEnd(text, i);
      if (end === -1) return { message: `unterminated string: the ${c} is never closed`, at: i };
      i = end + 1;
    } else if (c === '$') {
      const name = /^\$[a-zA-Z_]\w*/.exec(text.slice(i))?.[0];
      if (name === undefined) return { message: 'unexpected character "$"', at: i };
      if (placeholders === 'none') return { message: `placeholder ${name} has no place here: the field is a series selector, and the evaluator adds the range itself`, at: i };
      if (name !== WINDOW_PLACEHOLDER) return { message: `unknown placeholder ${name}: only ${WINDOW_PLACEHOLDER} is substituted`, at: i };
      i += name.length;
    } else if (c === '(' || c === '[' || c === '{') {
      open.push({ char: c, at: i });
      i++;
    } else if (c === ')' || c === ']' || c === '}') {
      const opener = CLOSING[c] ?? '';
      const top = open.pop();
      if (top === undefined) return { message: `"${c}" without a matching "${opener}"`, at: i };
      if (top.char !== opener) return { message: UNCLOSED[top.char] ?? `"${top.char}" is never closed`, at: top.at };
      i++;
    } else if (PLAIN_CHARACTER.test(c)) {
      i++;
    } else {
      return { message: `unexpected character ${JSON.stringify(c)}`, at: i };
    }
  }
  const unclosed = open.at(-1);
  return unclosed === undefined ? undefined : { message: UNCLOSED[unclosed.char] ?? `"${unclosed.char}" is never closed`, at: unclosed.at };
}

function findStringEnd(text: string, start: number): number {
  const quote = text.charAt(start);
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '\\' && quote !== '`') i++;
    else if (c === quote) return i;
  }
  return -1;
}

// ---- $window substitution, keeping positions ---------------------------------------------------

/** What `$window` becomes for the check: any duration gives the same syntax and types. */
const CHECK_WINDOW = '60s';

interface Rendered {
  text: string;
  /** Offsets of the substituted windows in `text`. */
  placeholders: { at: number; length: number }[];
  /** Maps an offset in `text` to the offset in the text as written (a substituted window maps to its `$`). */
  toOriginal: (offset: number) => number;
}

function renderWithPositions(text: string, substitute: boolean): Rendered {
  if (!substitute) return { text, placeholders: [], toOriginal: (offset) => offset };
  const segments: { from: number; to: number; original: number; placeholder: boolean }[] = [];
  const placeholders: { at: number; length: number }[] = [];
  let rendered = '';
  let original = 0;
  // The lexical scan has already rejected every other placeholder; comments and strings are
  // substituted too, as the evaluator does.
  for (const [index, piece] of text.split(WINDOW_PLACEHOLDER).entries()) {
    if (index > 0) {
      segments.push({ from: rendered.length, to: rendered.length + CHECK_WINDOW.length, original, placeholder: true });
      placeholders.push({ at: rendered.length, length: CHECK_WINDOW.length });
      rendered += CHECK_WINDOW;
      original += WINDOW_PLACEHOLDER.length;
    }
    segments.push({ from: rendered.length, to: rendered.length + piece.length, original, placeholder: false });
    rendered += piece;
    original += piece.length;
  }
  return {
    text: rendered,
    placeholders,
    toOriginal: (offset) => {
      for (const segment of segments) {
        if (offset < segment.to) return segment.placeholder ? segment.original : segment.original + Math.max(0, offset - segment.from);
      }
      return original + Math.max(0, offset - rendered.length);
    },
  };
}

// ---- the parse tree ----------------------------------------------------------------------------

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];
type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** `holt_winters` is Prometheus 2.42's; the grammar renamed it. A known function of the same length and kind of call stands in while parsing. */
const RENAMED_FOR_PARSING: readonly [string, string][] = [['holt_winters', 'day_of_month']];

interface FunctionSignature {
  args: readonly ValueType[];
  /** As in Prometheus: 0 exact; n: up to n of the last arguments may be left out; -1: the last one repeats. */
  variadic: number;
  returns: ValueType;
}

const instant = (args: readonly ValueType[] = ['vector'], variadic = 0): FunctionSignature => ({ args, variadic, returns: 'vector' });

/** Prometheus 2.42's functions (promql/parser/functions.go). */
const FUNCTIONS: ReadonlyMap<string, FunctionSignature> = new Map<string, FunctionSignature>([
  ...['abs', 'absent', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'ceil', 'cos', 'cosh', 'deg', 'exp', 'floor', 'histogram_count', 'histogram_sum', 'ln', 'log10', 'log2', 'rad', 'sgn', 'sin', 'sinh', 'sort', 'sort_desc', 'sqrt', 'tan', 'tanh', 'timestamp'].map(
    (name) => [name, instant()] as const,
  ),
  ...['absent_over_time', 'avg_over_time', 'changes', 'count_over_time', 'delta', 'deriv', 'idelta', 'increase', 'irate', 'last_over_time', 'max_over_time', 'min_over_time', 'present_over_time', 'rate', 'resets', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time'].map(
    (name) => [name, instant(['matrix'])] as const,
  ),
  ...['day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'hour', 'minute', 'month', 'year'].map((name) => [name, instant(['vector'], 1)] as const),
  ['clamp', instant(['vector', 'scalar', 'scalar'])],
  ['clamp_max', instant(['vector', 'scalar'])],
  ['clamp_min', instant(['vector', 'scalar'])],
  ['histogram_fraction', instant(['scalar', 'scalar', 'vector'])],
  ['histogram_quantile', instant(['scalar', 'vector'])],
  ['holt_winters', instant(['matrix', 'scalar', 'scalar'])],
  ['label_join', instant(['vector', 'string', 'string', 'string'], -1)],
  ['label_replace', instant(['vector', 'string', 'string', 'string', 'string'])],
  ['pi', { args: [], variadic: 0, returns: 'scalar' }],
  ['predict_linear', instant(['matrix', 'scalar'])],
  ['quantile_over_time', instant(['scalar', 'matrix'])],
  ['round', instant(['vector', 'scalar'], 1)],
  ['scalar', { args: ['vector'], variadic: 0, returns: 'scalar' }],
  ['time', { args: [], variadic: 0, returns: 'scalar' }],
  ['vector', instant(['scalar'])],
]);

/** Aggregations taking a parameter before the vector. */
const AGGREGATION_PARAMETER: Readonly<Record<string, ValueType>> = { topk: 'scalar', bottomk: 'scalar', quantile: 'scalar', count_values: 'string' };
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);

/** Words followed by a parenthesis that are not function calls. */
const KEYWORDS_BEFORE_PARENTHESES = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);
const COMPARISONS = new Set(['Eql', 'Neq', 'Gtr', 'Lss', 'Gte', 'Lte']);
const SET_OPERATORS = new Set(['And', 'Or', 'Unless']);
const BINARY_OPERATORS = new Set(['Pow', 'Mul', 'Div', 'Mod', 'Add', 'Sub', 'Atan2', ...COMPARISONS, ...SET_OPERATORS]);
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/;
const NEWER_PROMETHEUS = 'which Prometheus 2.42 (the version the harness runs) does not have';

const TYPE_NAMES: Record<ValueType, string> = { scalar: 'a number', vector: 'an instant vector', matrix: 'a range vector', string: 'a string' };

class Query {
  private readonly tree: ReturnType<typeof parser.parse>;

  constructor(
    /** The rendered text: what is parsed, and where function names are read. */
    private readonly source: string,
    readonly toOriginal: (offset: number) => number,
    /** The field as written, for quoting ranges as the user wrote them (`[$window]`). */
    private readonly original: string,
  ) {
    let parseText = source;
    for (const [name, standIn] of RENAMED_FOR_PARSING) parseText = parseText.replace(new RegExp(`\\b${name}(?=\\s*\\()`, 'g'), standIn);
    this.tree = parser.parse(parseText);
  }

  private text(node: SyntaxNode): string {
    return this.source.slice(node.from, node.to);
  }

  private originalText(node: SyntaxNode): string {
    return this.original.slice(this.toOriginal(node.from), this.toOriginal(node.to));
  }

  // ---- syntax ----

  /** Throws the parser's first error, in words that say what to fix. */
  checkSyntax(): void {
    let first: SyntaxNode | undefined;
    this.tree.iterate({
      enter: (ref) => {
        if (ref.type.isError && (first === undefined || ref.from < first.from)) first = ref.node;
        return first === undefined;
      },
    });
    if (first !== undefined) {
      const { message, at } = this.describeSyntaxError(first);
      throw new QueryError(message, at);
    }
  }

  private describeSyntaxError(error: SyntaxNode): { message: string; at: number } {
    const called = /([a-zA-Z_][a-zA-Z0-9_:]*)\s*$/.exec(this.source.slice(0, error.from));
    if (called?.[1] !== undefined && this.source.charAt(error.from) === '(' && !KEYWORDS_BEFORE_PARENTHESES.has(called[1])) {
      return { message: `unknown function ${called[1]}()`, at: called.index };
    }
    return { message: this.describeSyntaxErrorAt(error), at: error.from };
  }

  private describeSyntaxErrorAt(error: SyntaxNode): string {
    const text = this.source.slice(error.from, error.to).trim();
    const ancestors: SyntaxNode[] = [];
    for (let node = error.parent; node !== null; node = node.parent) ancestors.push(node);
    const inside = (name: string): SyntaxNode | undefined => ancestors.find((node) => node.name === name);

    const matcher = inside('UnquotedLabelMatcher');
    if (matcher !== undefined) {
      const name = matcher.getChild('LabelName');
      const op = matcher.getChild('MatchOp');
      const label = name === null ? '' : this.text(name);
      if (op === null || op.from > error.from || /^[=!~]/.test(text)) return `label matcher for "${label}" needs one of =, !=, =~, !~ followed by a quoted value`;
      return `label matcher ${label}${this.text(op)} needs a quoted value, as ${label}${this.text(op)}"…"`;
    }
    if (inside('LabelMatchers') !== undefined) {
      const next = error.nextSibling;
      if (text !== '' && next?.name === 'UnquotedLabelMatcher' && next.from === error.to) {
        const name = next.getChild('LabelName');
        return `"${text}${name === null ? '' : this.text(name)}" is not a valid label name in a matcher`;
      }
      return 'label matchers must be separated by "," and closed by "}"';
    }
    if (inside('GroupingLabels') !== undefined || inside('AggregateModifier') !== undefined || inside('MatchingModifierClause') !== undefined) {
      return 'label names must be separated by "," inside parentheses, as by (le, route)';
    }
    const range = inside('MatrixSelector') ?? inside('SubqueryExpr');
    if (range !== undefined) {
      const open = this.source.lastIndexOf('[', error.from - 1);
      const close = this.source.indexOf(']', open);
      if (open >= range.from && (close === -1 || close >= error.from)) {
        const content = this.original.slice(this.toOriginal(open + 1), close === -1 ? undefined : this.toOriginal(close));
        return `range [${content}] must be [${WINDOW_PLACEHOLDER}] or a duration like [5m] (or a subquery [${WINDOW_PLACEHOLDER}:1s])`;
      }
    }
    if (text === '') {
      const next = /^\S{1,20}/.exec(this.source.slice(error.from))?.[0];
      return next === undefined ? 'the query ends too early: an operand or a closing bracket is missing' : `unexpected ${JSON.stringify(next)}: something is missing before it`;
    }
    return `unexpected ${JSON.stringify(text.length > 20 ? `${text.slice(0, 20)}…` : text)}`;
  }

  // ---- placeholders ----

  /**
   * Every substituted `$window` must be a range (`[$window]`, `[$window:1s]`) or an offset. Returns
   * whether one of them is the range of a range selector or a subquery.
   */
  checkPlaceholders(placeholders: readonly { at: number }[]): { windowedRange: boolean } {
    let windowedRange = false;
    for (const { at } of placeholders) {
      let node: SyntaxNode | null = this.tree.resolveInner(at, 1);
      let placed: 'range' | 'other' | undefined;
      for (; node !== null && placed === undefined; node = node.parent) {
        if (node.name === 'OffsetDurationExpr') placed = 'other';
        if (node.name === 'DurationExpr' && (node.parent?.name === 'MatrixSelector' || node.parent?.name === 'SubqueryExpr')) {
          placed = node.parent.getChild('DurationExpr')?.from === node.from ? 'range' : 'other';
        }
      }
      if (placed === undefined) throw new QueryError(`${WINDOW_PLACEHOLDER} belongs inside a range, as [${WINDOW_PLACEHOLDER}]`, at);
      if (placed === 'range') windowedRange = true;
    }
    return { windowedRange };
  }

  // ---- types ----

  typeOfRoot(): ValueType {
    return this.typeOf(this.rootExpression());
  }

  requireSelector(): void {
    const root = this.rootExpression();
    if (root.kind !== 'selector') {
      throw new QueryError('must be a series selector like metric{label="value"} (no functions, ranges or operators): the evaluator adds increase() and the range itself', root.from);
    }
  }

  /** The query's expression, with modifiers bound as Prometheus binds them. */
  rootExpression(): Expr {
    const [first, ...rest] = children(this.tree.topNode);
    if (first === undefined) throw new QueryError('the query is empty', 0);
    if (rest[0] !== undefined) throw new QueryError(`unexpected ${JSON.stringify(this.text(rest[0]))} after a complete expression`, rest[0].from);
    return this.build(first);
  }

  rangeError(expr: Expr, where: string): QueryError {
    const what =
      expr.kind === 'range' ? `range [${this.originalText(expr.duration)}]` : expr.kind === 'subquery' ? `subquery ${this.originalSpan(expr.from, expr.to)}` : `range vector ${this.originalSpan(expr.from, expr.to)}`;
    return new QueryError(`${what} ${where}; wrap it in a function such as increase() or rate()`, expr.from);
  }

  private originalSpan(from: number, to: number): string {
    return this.original.slice(this.toOriginal(from), this.toOriginal(to));
  }

  /**
   * The grammar binds ranges, subqueries, `offset` and `@` to the whole expression before them
   * (`a + b[5m]` is a range of `a + b` in its tree); Prometheus binds them tighter than any
   * operator (`a + (b[5m])`). Such a postfix over a binary or unary expression is moved onto its
   * rightmost operand, so the type check sees what Prometheus sees.
   */
  private build(node: SyntaxNode): Expr {
    const span = { node, from: node.from, to: node.to };
    switch (node.name) {
      case 'ParenExpr':
        return { ...span, kind: 'paren', inner: this.build(this.only(node)) };
      case 'NumberDurationLiteral':
        return { ...span, kind: 'number' };
      case 'StringLiteral':
        return { ...span, kind: 'string' };
      case 'VectorSelector':
        return { ...span, kind: 'selector' };
      case 'MatrixSelector': {
        const [inner, duration] = children(node);
        if (inner === undefined || duration === undefined) throw new QueryError('incomplete range', node.from);
        return this.postfix(this.build(inner), (operand) => ({ kind: 'range', node, from: operand.from, to: node.to, inner: operand, duration }));
      }
      case 'SubqueryExpr': {
        const [inner, ...durations] = children(node);
        if (inner === undefined) throw new QueryError('a subquery needs an expression', node.from);
        return this.postfix(this.build(inner), (operand) => ({ kind: 'subquery', node, from: operand.from, to: node.to, inner: operand, durations }));
      }
      case 'OffsetExpr': {
        const [inner, keyword, duration] = children(node);
        if (inner === undefined || keyword === undefined) throw new QueryError('"offset" needs something to shift', node.from);
        return this.postfix(this.build(inner), (operand) => ({ kind: 'offset', node, from: operand.from, to: node.to, inner: operand, keyword, duration }));
      }
      case 'StepInvariantExpr': {
        const [inner, at] = children(node);
        if (inner === undefined || at === undefined) throw new QueryError('"@" needs something to evaluate', node.from);
        return this.postfix(this.build(inner), (operand) => ({ kind: 'at', node, from: operand.from, to: node.to, inner: operand, at }));
      }
      case 'UnaryExpr': {
        const inner = children(node).at(-1);
        if (inner === undefined) throw new QueryError('a sign needs an operand', node.from);
        return { ...span, kind: 'unary', inner: this.build(inner) };
      }
      case 'FunctionCall': {
        const identifier = node.getChild('FunctionIdentifier');
        const body = node.getChild('FunctionCallBody');
        return { ...span, kind: 'call', name: identifier === null ? '' : this.text(identifier), args: body === null ? [] : children(body).map((arg) => this.build(arg)) };
      }
      case 'AggregateExpr': {
        const op = node.getChild('AggregateOp');
        const body = node.getChild('FunctionCallBody');
        return { ...span, kind: 'aggregate', op: op === null ? '' : this.text(op), args: body === null ? [] : children(body).map((arg) => this.build(arg)) };
      }
      case 'BinaryExpr': {
        const parts = children(node);
        const operator = parts.find((part) => BINARY_OPERATORS.has(part.name) || part.name === 'TrimUpper' || part.name === 'TrimLower');
        const left = parts[0];
        const right = parts.at(-1);
        if (operator === undefined || left === undefined || right === undefined || left === operator || right === operator) {
          throw new QueryError('incomplete binary expression', node.from);
        }
        return { ...span, kind: 'binary', operator, left: this.build(left), right: this.build(right) };
      }
      case 'AnchoredExpr':
      case 'SmoothedExpr':
        throw new QueryError(`the "${node.name === 'AnchoredExpr' ? 'anchored' : 'smoothed'}" modifier is newer PromQL, ${NEWER_PROMETHEUS}`, node.from);
      default:
        throw new QueryError(`unexpected ${JSON.stringify(this.text(node))}`, node.from);
    }
  }

  /** Applies a postfix to the operand it binds to in Prometheus: the rightmost operand of an operator expression. */
  private postfix(inner: Expr, make: (operand: Expr) => Expr): Expr {
    if (inner.kind === 'binary') {
      const right = this.postfix(inner.right, make);
      return { ...inner, right, to: right.to };
    }
    if (inner.kind === 'unary') {
      const operand = this.postfix(inner.inner, make);
      return { ...inner, inner: operand, to: operand.to };
    }
    return make(inner);
  }

  private only(node: SyntaxNode): SyntaxNode {
    const [inner] = children(node);
    if (inner === undefined) throw new QueryError('empty parentheses', node.from);
    return inner;
  }

  private typeOf(expr: Expr): ValueType {
    switch (expr.kind) {
      case 'paren':
        return this.typeOf(expr.inner);
      case 'number':
        if (DURATION.test(this.text(expr.node))) throw new QueryError(`the duration ${this.originalText(expr.node)} is used as a number, ${NEWER_PROMETHEUS}: write the number of seconds`, expr.from);
        return 'scalar';
      case 'string':
        return 'string';
      case 'selector':
        this.checkSelector(expr.node);
        return 'vector';
      case 'range':
        if (expr.inner.kind !== 'selector') {
          throw new QueryError(`a range [${this.originalText(expr.duration)}] must follow a series selector; over an expression, use a subquery such as [${WINDOW_PLACEHOLDER}:1s]`, expr.inner.from);
        }
        this.checkSelector(expr.inner.node);
        this.checkDuration(expr.duration, 'range');
        return 'matrix';
      case 'subquery': {
        const type = this.typeOf(expr.inner);
        if (type !== 'vector') throw new QueryError(`a subquery [..:..] needs an instant vector, got ${TYPE_NAMES[type]}`, expr.inner.from);
        for (const duration of expr.durations) this.checkDuration(duration, 'subquery');
        return 'matrix';
      }
      case 'offset':
        if (!isSelectorLike(expr.inner)) {
          throw new QueryError(`"offset" must follow a series selector, a range or a subquery, not a function call: move it inside, as x[${WINDOW_PLACEHOLDER}] offset 1m`, expr.keyword.from);
        }
        if (expr.duration !== undefined) this.checkDuration(expr.duration, 'offset');
        return this.typeOf(expr.inner);
      case 'at':
        if (!isSelectorLike(expr.inner)) throw new QueryError('"@" must follow a series selector, a range or a subquery, not a function call', expr.at.from);
        return this.typeOf(expr.inner);
      case 'unary': {
        const type = this.typeOf(expr.inner);
        if (type === 'matrix') throw this.rangeError(expr.inner, 'cannot take a sign');
        if (type === 'string') throw new QueryError('a string cannot take a sign', expr.inner.from);
        return type;
      }
      case 'call':
        return this.typeOfCall(expr);
      case 'aggregate':
        return this.typeOfAggregation(expr);
      case 'binary':
        return this.typeOfBinary(expr);
    }
  }

  private typeOfCall(call: Extract<Expr, { kind: 'call' }>): ValueType {
    const { name, args } = call;
    const signature = FUNCTIONS.get(name);
    if (signature === undefined) throw new QueryError(`unknown function ${name}(), ${NEWER_PROMETHEUS}`, call.from);
    const { min, max } = arity(signature);
    if (args.length < min || args.length > max) {
      const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      throw new QueryError(`${name}() takes ${expected} argument${expected === '1' ? '' : 's'}, got ${args.length}`, call.from);
    }
    args.forEach((arg, i) => {
      const expected = signature.args[Math.min(i, signature.args.length - 1)] ?? 'vector';
      const type = this.typeOf(arg);
      if (type === expected) return;
      if (expected === 'matrix' && type === 'vector') {
        throw new QueryError(`${name}() needs a range vector: write ${name}(metric[${WINDOW_PLACEHOLDER}])`, arg.from);
      }
      if (type === 'matrix') throw this.rangeError(arg, `is inside ${name}(), which takes ${TYPE_NAMES[expected]} there`);
      throw new QueryError(`${name}() takes ${TYPE_NAMES[expected]} as argument ${i + 1}, got ${TYPE_NAMES[type]}`, arg.from);
    });
    return signature.returns;
  }

  private typeOfAggregation(aggregation: Extract<Expr, { kind: 'aggregate' }>): ValueType {
    const { op, args, node } = aggregation;
    if (!AGGREGATIONS.has(op)) throw new QueryError(`the aggregation ${op}() is newer PromQL, ${NEWER_PROMETHEUS}`, node.from);
    const modifier = node.getChild('AggregateModifier');
    if (modifier !== null) this.checkGrouping(modifier);
    const parameter = AGGREGATION_PARAMETER[op];
    const expected = parameter === undefined ? 1 : 2;
    if (args.length !== expected) {
      const takes = expected === 1 ? 'an instant vector' : `${parameter === 'string' ? 'a label name' : 'a number'} and an instant vector`;
      throw new QueryError(`${op}() takes ${takes}, got ${args.length} argument${args.length === 1 ? '' : 's'}`, node.from);
    }
    const [first, second] = args;
    if (parameter !== undefined && first !== undefined) {
      const type = this.typeOf(first);
      if (type !== parameter) throw new QueryError(`${op}() takes ${TYPE_NAMES[parameter]} as its parameter, got ${TYPE_NAMES[type]}`, first.from);
    }
    const vector = parameter === undefined ? first : second;
    if (vector !== undefined) {
      const type = this.typeOf(vector);
      if (type === 'matrix') throw this.rangeError(vector, `is inside ${op}(), which takes an instant vector`);
      if (type !== 'vector') throw new QueryError(`${op}() aggregates an instant vector, got ${TYPE_NAMES[type]}`, vector.from);
    }
    return 'vector';
  }

  private typeOfBinary(binary: Extract<Expr, { kind: 'binary' }>): ValueType {
    const { operator, node } = binary;
    const parts = children(node);
    const symbol = this.text(operator);
    if (operator.name === 'TrimUpper' || operator.name === 'TrimLower') throw new QueryError(`the operator ${symbol} is newer PromQL, ${NEWER_PROMETHEUS}`, operator.from);
    const fill = parts.find((part) => part.name === 'FillModifier');
    if (fill !== undefined) throw new QueryError(`fill modifiers are newer PromQL, ${NEWER_PROMETHEUS}`, fill.from);
    const types: ValueType[] = [];
    for (const operand of [binary.left, binary.right]) {
      const type = this.typeOf(operand);
      if (type === 'matrix') throw this.rangeError(operand, `is an operand of ${symbol}, which takes instant vectors or numbers`);
      if (type === 'string') throw new QueryError(`a string cannot be an operand of ${symbol}`, operand.from);
      types.push(type);
    }
    const bool = parts.find((part) => part.name === 'BoolModifier');
    const matching = parts.find((part) => part.name === 'MatchingModifierClause');
    const bothScalar = types.every((type) => type === 'scalar');
    if (bool !== undefined && !COMPARISONS.has(operator.name)) throw new QueryError(`"bool" only applies to comparisons, not to ${symbol}`, bool.from);
    if (COMPARISONS.has(operator.name) && bothScalar && bool === undefined) {
      throw new QueryError(`a comparison between two numbers needs "bool": write ${symbol} bool`, operator.from);
    }
    if (SET_OPERATORS.has(operator.name) && types.includes('scalar')) throw new QueryError(`"${symbol}" needs instant vectors on both sides, not a number`, operator.from);
    if (matching !== undefined) {
      if (types.includes('scalar')) throw new QueryError('on()/ignoring() match two instant vectors; one side is a number', matching.from);
      this.checkGrouping(matching);
      const grouping = children(matching).find((part) => part.name === 'GroupLeft' || part.name === 'GroupRight');
      if (grouping !== undefined && SET_OPERATORS.has(operator.name)) throw new QueryError(`${this.text(grouping)} does not apply to "${symbol}"`, grouping.from);
    }
    return bothScalar ? 'scalar' : 'vector';
  }

  private checkGrouping(node: SyntaxNode): void {
    for (const labels of node.getChildren('GroupingLabels')) {
      const quoted = labels.getChild('QuotedLabelName');
      if (quoted !== null) throw new QueryError(`quoted label names are newer PromQL, ${NEWER_PROMETHEUS}`, quoted.from);
    }
  }

  private checkSelector(node: SyntaxNode): void {
    const name = node.getChild('Identifier');
    const matchers = node.getChild('LabelMatchers');
    let nonEmpty = name !== null;
    for (const matcher of matchers === null ? [] : children(matchers)) {
      if (matcher.name !== 'UnquotedLabelMatcher') throw new QueryError(`quoted label names are newer PromQL, ${NEWER_PROMETHEUS}`, matcher.from);
      const label = matcher.getChild('LabelName');
      const op = matcher.getChild('MatchOp');
      const value = matcher.getChild('StringLiteral');
      if (label === null || op === null || value === null) throw new QueryError('incomplete label matcher', matcher.from);
      if (name !== null && this.text(label) === '__name__') throw new QueryError('the metric name is given twice (before the braces and as __name__)', matcher.from);
      if (!matchesEmpty(this.text(op), unquote(this.text(value)))) nonEmpty = true;
    }
    if (!nonEmpty) throw new QueryError('a selector without a metric name needs a label matcher that does not match the empty string, e.g. {job="api"}', node.from);
  }

  private checkDuration(node: SyntaxNode, what: 'range' | 'subquery' | 'offset'): void {
    const parts = children(node);
    const literal = parts[0];
    const written = this.originalText(node);
    if (parts.length === 1 && literal?.name === 'NumberDurationLiteralInDurationContext') {
      const text = this.text(literal).replace(/^-/, '');
      if (DURATION.test(text)) return;
      throw new QueryError(`${what} ${written} needs a unit, e.g. 5m (durations without a unit are newer PromQL, ${NEWER_PROMETHEUS})`, node.from);
    }
    throw new QueryError(`${what} ${written} is computed, and duration arithmetic is newer PromQL, ${NEWER_PROMETHEUS}: write one duration such as 5m`, node.from);
  }
}

/** A PromQL expression as Prometheus groups it; `from`/`to` are offsets in the parsed text. */
type Expr = { node: SyntaxNode; from: number; to: number } & (
  | { kind: 'number' | 'string' | 'selector' }
  | { kind: 'paren' | 'unary'; inner: Expr }
  | { kind: 'range'; inner: Expr; duration: SyntaxNode }
  | { kind: 'subquery'; inner: Expr; durations: SyntaxNode[] }
  | { kind: 'offset'; inner: Expr; keyword: SyntaxNode; duration: SyntaxNode | undefined }
  | { kind: 'at'; inner: Expr; at: SyntaxNode }
  | { kind: 'call'; name: string; args: Expr[] }
  | { kind: 'aggregate'; op: string; args: Expr[] }
  | { kind: 'binary'; operator: SyntaxNode; left: Expr; right: Expr }
);

/** The syntactic children of a node, comments left out. */
function children(node: SyntaxNode): SyntaxNode[] {
  const result: SyntaxNode[] = [];
  for (let child = node.firstChild; child !== null; child = child.nextSibling) if (child.name !== 'LineComment') result.push(child);
  return result;
}

/** Modifiers (offset, @) apply to selectors, ranges and subqueries, possibly already modified. */
function isSelectorLike(expr: Expr): boolean {
  if (expr.kind === 'selector' || expr.kind === 'range' || expr.kind === 'subquery') return true;
  return (expr.kind === 'offset' || expr.kind === 'at') && isSelectorLike(expr.inner);
}

function arity(signature: FunctionSignature): { min: number; max: number } {
  const count = signature.args.length;
  if (signature.variadic === 0) return { min: count, max: count };
  if (signature.variadic < 0) return { min: count - 1, max: Infinity };
  return { min: count - signature.variadic, max: count };
}

/** Whether a matcher accepts the empty string (then it selects nothing by itself). Unknown regex syntax counts as not matching it. */
function matchesEmpty(op: string, value: string): boolean {
  switch (op) {
    case '=':
      return value === '';
    case '!=':
      return value !== '';
    default: {
      let matches: boolean;
      try {
        matches = new RegExp(`^(?:${value})$`).test('');
      } catch {
        return false;
      }
      return op === '=~' ? matches : !matches;
    }
  }
}

function unquote(literal: string): string {
  const body = literal.slice(1, -1);
  if (literal.startsWith('`')) return body;
  try {
    return JSON.parse(`"${body.replace(/\\'/g, "'").replace(/(?<!\\)"/g, '\\"')}"`) as string;
  } catch {
    return body;
  }
}

/** A series selector taken apart: the metric name (when given before the braces) and its matchers. */
export interface ParsedSelector {
  metric: string | undefined;
  matchers: { label: string; op: '=' | '!=' | '=~' | '!~'; value: string; text: string }[];
}

/**
 * Takes apart a series selector such as `http_requests_total{job="api",status!~"5.."}`, so that other
 * formats can be rendered from it (k6 sub-metric tags, extra matchers for Flagger). Undefined when
 * the text is not a valid series selector (see `checkSloQueries`).
 */
export function parseSelector(text: string): ParsedSelector | undefined {
  if (analyse(text, { placeholders: 'none', result: 'selector' }) !== undefined) return undefined;
  const root = children(parser.parse(text).topNode)[0];
  if (root?.name !== 'VectorSelector') return undefined;
  const name = root.getChild('Identifier');
  const matchers: ParsedSelector['matchers'] = [];
  const list = root.getChild('LabelMatchers');
  for (const matcher of list === null ? [] : children(list)) {
    const label = matcher.getChild('LabelName');
    const op = matcher.getChild('MatchOp');
    const value = matcher.getChild('StringLiteral');
    if (label === null || op === null || value === null) return undefined;
    matchers.push({
      label: text.slice(label.from, label.to),
      op: text.slice(op.from, op.to) as ParsedSelector['matchers'][number]['op'],
      value: unquote(text.slice(value.from, value.to)),
      text: text.slice(matcher.from, matcher.to),
    });
  }
  return { metric: name === null ? undefined : text.slice(name.from, name.to), matchers };
}

/**
 * What a valid query returns, `scalar` or `vector` (after `$window` substitution), so that other
 * formats can combine it (a number cannot take `and on ()`); undefined for an invalid query or
 * any other result.
 */
export function queryResultType(text: string): 'scalar' | 'vector' | undefined {
  if (analyse(text, { placeholders: 'window', result: 'instant' }) !== undefined) return undefined;
  const rendered = renderWithPositions(text, true);
  const type = new Query(rendered.text, rendered.toOriginal, text).typeOfRoot();
  return type === 'scalar' || type === 'vector' ? type : undefined;
}
