"""The tools both v1 domains share, with identical code upstream: `calculate`, `think` and the
(hidden, terminal) transfer to a human agent.

`calculate` does not use `eval`: a small `ast` interpreter gives the results and errors `eval` gave
on everything the original's character filter lets through.
"""

from __future__ import annotations

import ast
import json
import operator
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

# CPython names its evaluator in this error text; v1 showed it to the agent.
_BUILTIN_NAME = "eval"

# --------------------------------------------------------------------------- calculate

# Everything v1 lets through its filter: with no letters, commas, brackets or quotes, the parse tree
# can only hold numbers, `...`, the empty tuple, + - * / // ** (binary), unary + -, and calls (for
# `(1)(2)`), which always fail at run time since no value is callable.
_ALLOWED_CHARACTERS = "0123456789+-*/(). "

# Integer results are capped at MAX_INT_BITS: `9**9**9**9` would keep eval (and this loop, which
# runs in the dialogue's event loop) busy for ever. Anything that large cannot become the float
# the tool returns, so the cap raises the error the final float() would have raised.
MAX_INT_BITS = 100_000


def _too_large() -> NoReturn:
    raise OverflowError("int too large to convert to float")


def _mul(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
        _too_large()
    return operator.mul(left, right)


def _pow(base: Any, exponent: Any) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:
            _too_large()
    return operator.pow(base, exponent)


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: _mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: _pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _children(node: ast.AST) -> list[ast.AST]:
    """Sub-expressions in Python's evaluation order (left to right, callee before arguments)."""
    match node:
        case ast.Expression(body=body):
            return [body]
        case ast.BinOp(left=left, right=right) if type(node.op) in _BINARY:
            return [left, right]
        case ast.UnaryOp(operand=operand) if type(node.op) in _UNARY:
            return [operand]
        case ast.Tuple(elts=elements):
            return list(elements)
        case ast.Call(func=func, args=args, keywords=keywords):
            return [func, *args, *keywords]
        case ast.Starred(value=value) | ast.keyword(value=value):
            return [value]
        case ast.Constant():
            return []
    raise TypeError(f"unsupported expression: {type(node).__name__}")  # unreachable past the filter


def _postorder(root: ast.AST) -> Iterator[ast.AST]:
    """Every node after its children, children left to right. Iterative, so that nesting as deep
    as the parser accepts (thousands of levels, which eval handled) cannot hit Python's recursion limit."""
    visited: list[ast.AST] = []
    pending = [root]
    while pending:  # root-right-left pre-order, reversed, is left-right-root post-order
        node = pending.pop()
        visited.append(node)
        pending.extend(_children(node))
    return reversed(visited)


def _call(node: ast.Call, callee: Any, arguments: list[Any]) -> NoReturn:
    """What CPython raises for `callee(...)`: bad unpacking first, else not callable. Without commas
    a call has at most one argument, `x`, `*x` or `**x`."""
    argument_nodes: list[ast.expr | ast.keyword] = [*node.args, *node.keywords]
    for argument_node, value in zip(argument_nodes, arguments, strict=True):
        if isinstance(argument_node, ast.Starred) and not isinstance(value, tuple):
            raise TypeError(f"{callee} argument after * must be an iterable, not {type(value).__name__}")
        if isinstance(argument_node, ast.keyword):  # no value built here is a mapping
            raise TypeError(f"{callee} argument after ** must be a mapping, not {type(value).__name__}")
    raise TypeError(f"'{type(callee).__name__}' object is not callable")


def _evaluate(expression: str) -> Any:
    """The value v1's built-in evaluation of the expression (no builtins) had, or the exception it raised."""
    if not isinstance(expression, str):  # a list of characters passes v1's filter, then eval refused it
        raise TypeError(f"{_BUILTIN_NAME}() arg 1 must be a string, bytes or code object")
    # eval drops leading spaces before compiling; "<string>" is the file name its syntax errors cite.
    try:
        tree = ast.parse(expression.lstrip(" "), filename="<string>", mode="eval")
    except RecursionError:  # thousands of nested operators: the same limit as eval's, named after eval's stage
        raise RecursionError("maximum recursion depth exceeded during compilation") from None
    stack: list[Any] = []
    for node in _postorder(tree):
        match node:
            case ast.Constant(value=value):
                stack.append(value)
            case ast.BinOp(op=op):
                right = stack.pop()
                stack.append(_BINARY[type(op)](stack.pop(), right))
            case ast.UnaryOp(op=op):
                stack.append(_UNARY[type(op)](stack.pop()))
            case ast.Tuple(elts=elements):
                items = stack[len(stack) - len(elements) :]
                del stack[len(stack) - len(elements) :]
                stack.append(tuple(items))
            case ast.Call(args=args, keywords=keywords):
                count = len(args) + len(keywords)
                arguments = stack[len(stack) - count :]
                del stack[len(stack) - count :]
                _call(node, stack.pop(), arguments)
            # Expression, Starred and keyword nodes just pass their child's value on.
    return stack.pop()


class Calculate:
    @staticmethod
    def invoke(data: dict[str, Any], expression: str) -> str:
        # The filter runs outside the try, as in v1: a non-iterable argument raises to the caller.
        if not all(character in _ALLOWED_CHARACTERS for character in expression):
            return "Error: invalid characters in expression"
        try:
            return str(round(float(_evaluate(expression)), 2))
        except Exception as exc:  # noqa: BLE001 - v1 turns every evaluation error into text
            return f"Error: {exc}"


# --------------------------------------------------------------------------- the rest


class Think:
    @staticmethod
    def invoke(data: dict[str, Any], thought: str) -> str:
        return ""  # only logged: no new information, no change to the DB


class TransferToHumanAgents:
    @staticmethod
    def invoke(data: dict[str, Any], summary: str) -> str:
        return "Transfer successful"  # the environment ends the episode on this tool


def record_json(data: dict[str, Any], table: str, key: str, error: str) -> str:
    """A look-up tool's answer: the record as JSON, or v1's error text when the key is unknown."""
    rows = data[table]
    return json.dumps(rows[key]) if key in rows else error
