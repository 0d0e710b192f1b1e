/**
 * The expression language of Argo Rollouts' `successCondition` / `failureCondition`
 * (expr-lang, evaluated with `result` bound to the measurement), for the subset analysis
 * templates use: `result[0] >= 0.99`, `len(result) == 0 || result[0] < 0.5`, `isNaN(result[0])`,
 * `!`, `not`, `and`, `or`, arithmetic, `?:`, and Argo's helper functions. No `eval`: the text is
 * tokenised and parsed into a tree, checked when the template is parsed, and walked per measurement.
 *
 * Semantics follow expr-lang where a template can tell the difference:
 * - `result[i]` outside the list is an error (Argo marks the measurement Error), and so is
 *   indexing a scalar; a negative index counts from the end;
 * - comparisons with NaN are false (so `result[0] >= 0.99` on NaN is false, not an error);
 * - `&&` / `||` short-circuit and need booleans; a condition that does not yield a boolean is an error.
 */

export type ExprValue = number | string | boolean | null | readonly ExprValue[];

/** A condition that cannot be parsed (`position` is 1-based) or evaluated. */
export class ArgoExpressionError extends Error {
  override name = 'ArgoExpressionError';
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(position === undefined ? message : `${message} (at column ${position})`);
  }
}

type Node =
  | { type: 'literal'; value: ExprValue }
  | { type: 'name'; name: string; at: number }
  | { type: 'unary'; op: '!' | '-' | '+'; operand: Node; at: number }
  | { type: 'binary'; op: string; left: Node; right: Node; at: number }
  | { type: 'index'; target: Node; index: Node; at: number }
  | { type: 'call'; callee: string; args: Node[]; at: number }
  | { type: 'conditional'; test: Node; then: Node; otherwise: Node };

type Token = { kind: 'number'; value: number; at: number } | { kind: 'string'; value: string; at: number } | { kind: 'name'; value: string; at: number } | { kind: 'op'; value: string; at: number } | { kind: 'end'; at: number };

const OPERATORS = ['**', '==', '!=', '<=', '>=', '&&', '||', '<', '>', '+', '-', '*', '/', '%', '^', '!', '(', ')', '[', ']', ',', '?', ':'];
const WORD_OPERATORS: Record<string, string> = { and: '&&', or: '||', not: '!' };
const VARIABLES = new Set(['result']);

type Builtin = (args: ExprValue[], at: number) => ExprValue;

const FUNCTIONS: Record<string, Builtin> = {
  len: (args, at) => {
    const [value] = arity('len', args, 1, at);
    if (isList(value)) return value.length;
    if (typeof value === 'string') return value.length;
    throw new ArgoExpressionError(`len() of ${typeName(value ?? null)}`, at);
  },
  isNaN: (args, at) => Number.isNaN(numberArg('isNaN', arity('isNaN', args, 1, at)[0], at)),
  isInf: (args, at) => {
    const value = numberArg('isInf', arity('isInf', args, 1, at)[0], at);
    return value === Infinity || value === -Infinity;
  },
  isNil: (args, at) => arity('isNil', args, 1, at)[0] === null,
  default: (args, at) => {
    const [value, fallback] = arity('default', args, 2, at);
    return value === null ? (fallback ?? null) : (value ?? null);
  },
  asInt: (args, at) => {
    const text = arity('asInt', args, 1, at)[0];
    if (typeof text !== 'string' || !/^[+-]?\d+$/.test(text.trim())) throw new ArgoExpressionError(`asInt(${display(text)}): not an integer string`, at);
    return Number(text);
  },
  asFloat: (args, at) => {
    const text = arity('asFloat', args, 1, at)[0];
    const value = typeof text === 'string' && text.trim() !== '' ? Number(text) : NaN;
    if (typeof text !== 'string' || (Number.isNaN(value) && text.trim() !== 'NaN')) throw new ArgoExpressionError(`asFloat(${display(text)}): not a number string`, at);
    return value;
  },
  abs: (args, at) => Math.abs(numberArg('abs', arity('abs', args, 1, at)[0], at)),
  min: (args, at) => Math.min(...atLeastOne('min', args, at).map((value) => numberArg('min', value, at))),
  max: (args, at) => Math.max(...atLeastOne('max', args, at).map((value) => numberArg('max', value, at))),
};

/** A parsed condition: `evaluate` binds `result` and returns the boolean, or throws ArgoExpressionError. */
export interface ArgoCondition {
  readonly text: string;
  evaluate(result: ExprValue): boolean;
}

/** Parses `text`; throws ArgoExpressionError with the column of the problem. */
export function parseArgoCondition(text: string): ArgoCondition {
  const parser = new Parser(tokenize(text));
  const tree = parser.parseExpression(0);
  parser.expectEnd();
  return {
    text,
    evaluate(result) {
      const value = evaluate(tree, result);
      if (typeof value !== 'boolean') throw new ArgoExpressionError(`the condition evaluated to ${display(value)}, not a boolean`);
      return value;
    },
  };
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i] ?? '';
    const at = i + 1;
    if (/\s/.test(char)) {
      i++;
      continue;
    }
    const number = /^(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)/.exec(text.slice(i));
    if (number) {
      tokens.push({ kind: 'number', value: Number(number[0]), at });
      i += number[0].length;
      continue;
    }
    if (char === '"' || char === "'") {
      let value = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== char; j++) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        value += text[j];
      }
      if (j >= text.length) throw new ArgoExpressionError('unterminated string', at);
      tokens.push({ kind: 'string', value, at });
      i = j + 1;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (word) {
      const op = WORD_OPERATORS[word[0]];
      tokens.push(op ? { kind: 'op', value: op, at } : { kind: 'name', value: word[0], at });
      i += word[0].length;
      continue;
    }
    const op = OPERATORS.find((candidate) => text.startsWith(candidate, i));
    if (!op) throw new ArgoExpressionError(`unexpected character ${JSON.stringify(char)}`, at);
    tokens.push({ kind: 'op', value: op, at });
    i += op.length;
  }
  tokens.push({ kind: 'end', at: text.length + 1 });
  return tokens;
}

/** Binding power of each binary operator (expr-lang's precedence: or < and < comparison < + - < * / % < **). */
const BINARY: Record<string, { power: number; right?: boolean }> = {
  '||': { power: 10 },
  '&&': { power: 15 },
  '==': { power: 20 },
  '!=': { power: 20 },
  '<': { power: 20 },
  '>': { power: 20 },
  '<=': { power: 20 },
  '>=': { power: 20 },
  '+': { power: 30 },
  '-': { power: 30 },
  '*': { power: 60 },
  '/': { power: 60 },
  '%': { power: 60 },
  '**': { power: 100, right: true },
  '^': { power: 100, right: true },
};
const UNARY_POWER = 90;
const CONDITIONAL_POWER = 5;

class Parser {
  private position = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.position] ?? { kind: 'end', at: 0 };
  }

  private next(): Token {
    const token = this.peek();
    this.position++;
    return token;
  }

  private isOp(value: string): boolean {
    const token = this.peek();
    return token.kind === 'op' && token.value === value;
  }

  private expectOp(value: string): void {
    const token = this.next();
    if (token.kind !== 'op' || token.value !== value) throw new ArgoExpressionError(`expected "${value}", found ${describeToken(token)}`, token.at);
  }

  expectEnd(): void {
    const token = this.peek();
    if (token.kind !== 'end') throw new ArgoExpressionError(`unexpected ${describeToken(token)}`, token.at);
  }

  parseExpression(minPower: number): Node {
    let left = this.parsePrefix();
    for (;;) {
      const token = this.peek();
      if (token.kind !== 'op') break;
      if (token.value === '?' && minPower < CONDITIONAL_POWER) {
        this.next();
        const then = this.parseExpression(0);
        this.expectOp(':');
        const otherwise = this.parseExpression(CONDITIONAL_POWER - 1);
        left = { type: 'conditional', test: left, then, otherwise };
        continue;
      }
      const binary = BINARY[token.value];
      if (!binary || binary.power <= minPower) break;
      this.next();
      const right = this.parseExpression(binary.right ? binary.power - 1 : binary.power);
      left = { type: 'binary', op: token.value === '^' ? '**' : token.value, left, right, at: token.at };
    }
    return left;
  }

  private parsePrefix(): Node {
    const token = this.next();
    let node: Node;
    switch (token.kind) {
      case 'number':
        node = { type: 'literal', value: token.value };
        break;
      case 'string':
        node = { type: 'literal', value: token.value };
        break;
      case 'name':
        node = this.parseName(token.value, token.at);
        break;
      case 'op':
        if (token.value === '(') {
          node = this.parseExpression(0);
          this.expectOp(')');
        } else if (token.value === '!' || token.value === '-' || token.value === '+') {
          node = { type: 'unary', op: token.value, operand: this.parseExpression(UNARY_POWER), at: token.at };
        } else {
          throw new ArgoExpressionError(`unexpected "${token.value}"`, token.at);
        }
        break;
      case 'end':
        throw new ArgoExpressionError('unexpected end of the condition', token.at);
    }
    return this.parsePostfix(node);
  }

  private parseName(name: string, at: number): Node {
    if (name === 'true' || name === 'false') return { type: 'literal', value: name === 'true' };
    if (name === 'nil') return { type: 'literal', value: null };
    if (this.isOp('(')) {
      if (!(name in FUNCTIONS)) throw new ArgoExpressionError(`unknown function ${name}(); known: ${Object.keys(FUNCTIONS).join(', ')}`, at);
      this.next();
      const args: Node[] = [];
      if (!this.isOp(')')) {
        args.push(this.parseExpression(0));
        while (this.isOp(',')) {
          this.next();
          args.push(this.parseExpression(0));
        }
      }
      this.expectOp(')');
      return { type: 'call', callee: name, args, at };
    }
    if (!VARIABLES.has(name)) throw new ArgoExpressionError(`unknown name ${name}; a condition can use result`, at);
    return { type: 'name', name, at };
  }

  private parsePostfix(node: Node): Node {
    let current = node;
    while (this.isOp('[')) {
      const at = this.next().at;
      const index = this.parseExpression(0);
      this.expectOp(']');
      current = { type: 'index', target: current, index, at };
    }
    return current;
  }
}

function evaluate(node: Node, result: ExprValue): ExprValue {
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'name':
      return result;
    case 'unary': {
      const value = evaluate(node.operand, result);
      if (node.op === '!') return !boolArg('!', value, node.at);
      const number = numberArg(`unary ${node.op}`, value, node.at);
      return node.op === '-' ? -number : number;
    }
    case 'conditional':
      return boolArg('?:', evaluate(node.test, result), 0) ? evaluate(node.then, result) : evaluate(node.otherwise, result);
    case 'index': {
      const target = evaluate(node.target, result);
      const index = evaluate(node.index, result);
      if (!isList(target)) throw new ArgoExpressionError(`cannot index ${typeName(target)}`, node.at);
      if (typeof index !== 'number' || !Number.isInteger(index)) throw new ArgoExpressionError(`index must be an integer, got ${display(index)}`, node.at);
      const position = index < 0 ? target.length + index : index;
      if (position < 0 || position >= target.length) throw new ArgoExpressionError(`index out of range: ${index} (len ${target.length})`, node.at);
      return target[position] ?? null;
    }
    case 'call': {
      const builtin = FUNCTIONS[node.callee];
      if (!builtin) throw new ArgoExpressionError(`unknown function ${node.callee}()`, node.at);
      return builtin(
        node.args.map((arg) => evaluate(arg, result)),
        node.at,
      );
    }
    case 'binary':
      return evaluateBinary(node, result);
  }
}

function evaluateBinary(node: Extract<Node, { type: 'binary' }>, result: ExprValue): ExprValue {
  if (node.op === '&&' || node.op === '||') {
    const left = boolArg(node.op, evaluate(node.left, result), node.at);
    if (node.op === '&&' ? !left : left) return left;
    return boolArg(node.op, evaluate(node.right, result), node.at);
  }
  const left = evaluate(node.left, result);
  const right = evaluate(node.right, result);
  switch (node.op) {
    case '==':
      return equal(left, right);
    case '!=':
      return !equal(left, right);
    case '<':
    case '>':
    case '<=':
    case '>=': {
      if (!((typeof left === 'number' && typeof right === 'number') || (typeof left === 'string' && typeof right === 'string'))) {
        throw new ArgoExpressionError(`invalid operation: ${typeName(left)} ${node.op} ${typeName(right)}`, node.at);
      }
      if (node.op === '<') return left < right;
      if (node.op === '>') return left > right;
      if (node.op === '<=') return left <= right;
      return left >= right;
    }
    case '+':
      if (typeof left === 'string' && typeof right === 'string') return left + right;
      return numberArg('+', left, node.at) + numberArg('+', right, node.at);
    case '-':
      return numberArg('-', left, node.at) - numberArg('-', right, node.at);
    case '*':
      return numberArg('*', left, node.at) * numberArg('*', right, node.at);
    case '/':
      return numberArg('/', left, node.at) / numberArg('/', right, node.at);
    case '%': {
      const divisor = numberArg('%', right, node.at);
      if (divisor === 0) throw new ArgoExpressionError('integer divide by zero', node.at);
      return numberArg('%', left, node.at) % divisor;
    }
    case '**':
      return numberArg('**', left, node.at) ** numberArg('**', right, node.at);
    default:
      throw new ArgoExpressionError(`unknown operator ${node.op}`, node.at);
  }
}

/** Array.isArray does not narrow readonly arrays. */
function isList(value: ExprValue | undefined): value is readonly ExprValue[] {
  return Array.isArray(value);
}

function equal(left: ExprValue, right: ExprValue): boolean {
  if (isList(left) && isList(right)) return left.length === right.length && left.every((value, i) => equal(value, right[i] ?? null));
  return left === right;
}

function boolArg(op: string, value: ExprValue, at: number): boolean {
  if (typeof value !== 'boolean') throw new ArgoExpressionError(`invalid operation: ${op} needs booleans, got ${typeName(value)}`, at || undefined);
  return value;
}

function numberArg(what: string, value: ExprValue | undefined, at: number): number {
  if (typeof value !== 'number') throw new ArgoExpressionError(`invalid operation: ${what} needs a number, got ${typeName(value ?? null)}`, at);
  return value;
}

function arity(name: string, args: ExprValue[], count: number, at: number): ExprValue[] {
  if (args.length !== count) throw new ArgoExpressionError(`${name}() takes ${count} argument(s), got ${args.length}`, at);
  return args;
}

function atLeastOne(name: string, args: ExprValue[], at: number): ExprValue[] {
  if (args.length === 0) throw new ArgoExpressionError(`${name}() needs at least one argument`, at);
  return args;
}

function typeName(value: ExprValue): string {
  if (value === null) return 'nil';
  if (isList(value)) return 'a list';
  return typeof value === 'number' ? 'a number' : typeof value === 'string' ? 'a string' : 'a bool';
}

function display(value: ExprValue | undefined): string {
  if (value === undefined || value === null) return 'nil';
  if (isList(value)) return `[${value.map(display).join(', ')}]`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function describeToken(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'end of the condition';
    case 'string':
      return `string ${JSON.stringify(token.value)}`;
    case 'number':
      return `number ${token.value}`;
    default:
      return `"${token.value}"`;
  }
}
