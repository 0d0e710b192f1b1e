import { describe, expect, it } from 'vitest';
import { ArgoExpressionError, parseArgoCondition, type ExprValue } from './argo-expr.ts';

function evaluate(text: string, result: ExprValue): boolean {
  return parseArgoCondition(text).evaluate(result);
}

function runtimeError(text: string, result: ExprValue): string {
  const condition = parseArgoCondition(text);
  try {
    condition.evaluate(result);
  } catch (error) {
    if (error instanceof ArgoExpressionError) return error.message;
    throw error;
  }
  throw new Error(`${text} did not fail on ${JSON.stringify(result)}`);
}

function syntaxError(text: string): ArgoExpressionError {
  try {
    parseArgoCondition(text);
  } catch (error) {
    if (error instanceof ArgoExpressionError) return error;
    throw error;
  }
  throw new Error(`${text} parsed`);
}

describe('Argo Rollouts conditions', () => {
  it.each<[string, ExprValue, boolean]>([
    ['result[0] >= 0.99', [0.995], true],
    ['result[0] >= 0.99', [0.95], false],
    ['result[0] >= 0.99', [NaN], false], // NaN compares false: Failed under a lone successCondition
    ['result[0] < 0.99', [NaN], false], // … and Successful under a lone failureCondition
    ['len(result) == 0 || result[0] >= 0.95', [], true], // short-circuit: result[0] is never read
    ['len(result) == 1 && result[0] >= 0.99', [], false],
    ['isNaN(result[0])', [NaN], true],
    ['isInf(result[0])', [Infinity], true],
    ['result >= 0.9', 0.95, true], // a scalar result is a number
    ['result[-1] == 3', [1, 2, 3], true],
    ['not (result[0] > 1) and true', [0.5], true],
    ['!isNaN(result[0]) && result[0] < 0.5', [0.2], true],
    ['1 + 2 * 3 == 7 && 2 ** 3 ** 2 == 512 && 7 % 4 == 3 && -result[0] == -2', [2], true],
    ['len(result) > 0 ? result[0] > 1 : false', [], false],
    ['max(result[0], 0.5) == 0.5 && abs(-result[0]) == 0.25 && min(1, 2) == 1', [0.25], true],
    ["asFloat('0.5') == 0.5 && asInt('3') == 3", [], true],
    ['default(nil, 1) == 1 && isNil(nil) && "a" + "b" == \'ab\'', [], true],
    ['result == result', [1, 2], true],
  ])('%s with result %j is %s', (text, result, expected) => {
    expect(evaluate(text, result)).toBe(expected);
  });

  it.each<[string, ExprValue, RegExp]>([
    ['result[0] >= 0.99', [], /^index out of range: 0 \(len 0\) \(at column 7\)$/], // Argo: measurement Error
    ['result[0] >= 0.9', 0.95, /^cannot index a number/],
    ['result >= 0.9', [0.95], /^invalid operation: a list >= a number/],
    ['result[0] && true', [1], /needs booleans, got a number/],
    ['result[0]', [1], /^the condition evaluated to 1, not a boolean$/],
    ["asInt('x') == 1", [], /asInt\("x"\): not an integer string/],
    ['len(result[0]) == 1', [1], /len\(\) of a number/],
    ['result[0] % 0 == 1', [3], /integer divide by zero/],
  ])('%s with result %j is an error', (text, result, message) => {
    expect(runtimeError(text, result)).toMatch(message);
  });

  it.each([
    ['result[0] >=', 'unexpected end of the condition', 13],
    ['foo > 1', 'unknown name foo; a condition can use result', 1],
    ['result[0] >= 0.99)', 'unexpected ")"', 18],
    ['eval("1")', 'unknown function eval(); known: len, isNaN, isInf, isNil, default, asInt, asFloat, abs, min, max', 1],
    ["result == 'x", 'unterminated string', 11],
    ['result # 1', 'unexpected character "#"', 8],
    ['(result[0] > 1', 'expected ")", found end of the condition', 15],
    ['len(result,) > 1', 'unexpected ")"', 12],
  ])('rejects %s at parse time', (text, message, column) => {
    const error = syntaxError(text);
    expect(error.message).toBe(`${message} (at column ${column})`);
    expect(error.position).toBe(column);
  });
});
