import { parser } from '@prometheus-io/lezer-promql';

/**
 * Whether an instant query returns a scalar or an instant vector, read from its syntax tree:
 * Argo Rollouts binds a scalar result to `result` as a number and a vector as a list, so a
 * replay must know which one Prometheus returned (the client gives both as samples).
 * A number, `scalar()`, `time()`, `pi()`, and arithmetic of those are scalars; everything else
 * an instant query can return is a vector (a query that does not parse is left to Prometheus to reject).
 */
export function instantResultType(query: string): 'scalar' | 'vector' {
  const root = parser.parse(query).topNode.firstChild;
  return root !== null && isScalar(root) ? 'scalar' : 'vector';
}

/** @lezer/common's SyntaxNode, named through the parser (that package is not a direct dependency). */
type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

const SCALAR_FUNCTIONS = new Set(['Scalar', 'Time', 'Pi']);

function isScalar(node: SyntaxNode): boolean {
  switch (node.name) {
    case 'NumberDurationLiteral':
    case 'NumberLiteral':
      return true;
    case 'ParenExpr':
      return node.firstChild !== null && isScalar(node.firstChild);
    case 'UnaryExpr':
      return node.lastChild !== null && isScalar(node.lastChild);
    case 'FunctionCall': {
      const identifier = node.getChild('FunctionIdentifier')?.firstChild;
      return identifier !== null && identifier !== undefined && SCALAR_FUNCTIONS.has(identifier.name);
    }
    case 'BinaryExpr':
      return node.firstChild !== null && node.lastChild !== null && isScalar(node.firstChild) && isScalar(node.lastChild);
    default:
      return false;
  }
}
