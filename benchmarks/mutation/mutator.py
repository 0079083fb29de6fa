"""A small AST mutator: every mutant of a module, enumerated the same way on every run.

A mutant is one local edit of the source text, found on the AST and written back by splicing the
replacement over the exact span of the node it changes, so the mutated file keeps its comments and
layout and a mutant's diff is the line or two it touches. An expression replaced inside another
expression is parenthesised, so operator precedence cannot change what the edit means.

Its ID names the mutated code, not where it sits:

    module:function:Operator:what:digest[#ordinal]
    engine/rooms.py:Room.others:CompareSwap:<=→<:a6b766

- `function` is the qualified name of the innermost function or class around the edit
  (`Room.others`; `<module>` at the top level; a nested function is `outer.inner`);
- `Operator:what` is the edit (`ConstantChange:64→65`; RemoveStatement's `what` is the start of
  the removed statement);
- `digest` is the first 6 hex digits of the SHA-1 of the mutated node's source together with the
  source of the statement it is in, both as `ast.unparse` prints them: a simple statement whole,
  an `if` or `while` its condition, a `for` its target and iterable, a `def` its signature, never
  the statements they hold (a `break` or `continue` takes the statement around it as well, having
  no text of its own). Layout, comments and line breaks do not enter it;
- `#ordinal` tells apart mutants that agree on all of that (the same edit of the same statement
  twice in one function): `#2` is the second in source order. The first has none.

So an ID survives every edit that leaves the mutated statement and the function's name alone:
lines added or removed above it, reformatting, edits of other statements of the same function (a
string replaced by an enum on another line), other functions and modules. It changes when the
mutated statement's text changes (anything in it, not only the mutated node), when the function or
a class around it is renamed or the statement moves to another function, and, for `#2` and up,
when an identical twin is added or removed before it in the same function.

The statement, not the node alone, is hashed because a node as small as the constant `1` recurs
many times in a function: told apart by an ordinal only, an edit that adds one before it would
silently pass a judgement of equivalent.json to another mutant, where a changed digest makes the
judgement's key name no mutant, which tests/mutation reports. The line and column stay on the
mutant (`Mutant.where`) for people: reports print them next to the ID.

What is never mutated, and why:

- docstrings, annotations, `__all__`, `__slots__`, asserts and logging: they do not change what
  the engine does on the wire;
- outcome counting (`self._count(...)`, `self.outcomes[...]`, the outcome argument of
  `ProtocolViolation`, the reason of `Close`), `engine/outcomes.py` (their names) and
  `engine/rules.py`: the engine counts outcomes
  for the fuzzer's coverage report and the transport's logs; a server never reads them, so no
  wire-level check can see a change to them, and measuring them would only add equivalent
  mutants;
- `engine/cluster.py`: a node of a cluster; the single server the suite runs against never
  runs it, so every mutant of it would survive the run (tests/cluster checks it instead);
- lines marked `# pragma: no mutate`, for the same reasons where a rule above cannot tell.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PRAGMA = "# pragma: no mutate"
SKIPPED_MODULES = frozenset({"engine/rules.py", "engine/outcomes.py", "engine/cluster.py"})
SKIPPED_NAMES = frozenset({"__all__", "__slots__"})
# Calls and subscripts that only count or log (see the module docstring).
INSTRUMENTATION_ATTRS = frozenset({"outcomes", "log", "logger", "logging"})
# Calls whose argument at this index is an outcome or a log reason, not wire behaviour.
UNSEEN_ARGUMENT = {"ProtocolViolation": 1, "Close": 1}

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_OP_TEXT = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.And: "and",
    ast.Or: "or",
}


def error_codes() -> tuple[str, ...]:
    """The protocol's error codes, in errors.json order: an error-code string is mutated to the
    next one, a code the engine knows, so the mutant sends another real error text."""
    path = Path(__file__).resolve().parents[2] / "protocol" / "errors.json"
    return tuple(json.loads(path.read_text())["errors"])


@dataclass(frozen=True)
class Mutant:
    """One edit: bytes `start:end` of `module`'s source become `replacement`."""

    module: str  # relative to the repository, e.g. engine/engine.py
    function: str  # qualified name of the function or class around it, `<module>` for none
    line: int  # where it is now, for people; not part of the ID
    col: int
    operator: str
    what: str
    digest: str  # of the mutated node's and its statement's source (see the module docstring)
    start: int
    end: int
    replacement: str
    ordinal: int = 1  # the second mutant equal in all of the above but place gets #2

    @property
    def id(self) -> str:
        suffix = f"#{self.ordinal}" if self.ordinal > 1 else ""
        return f"{self.module}:{self.function}:{self.operator}:{self.what}:{self.digest}{suffix}"

    @property
    def twins(self) -> tuple[str, str, str, str, str]:
        """What the ID says except the ordinal: mutants equal in this are numbered in order."""
        return (self.module, self.function, self.operator, self.what, self.digest)

    @property
    def where(self) -> str:
        """`path:line`, the mutant's place in today's source, for people."""
        return f"{self.module}:{self.line}"

    def apply(self, source: str) -> str:
        data = source.encode()
        return (data[: self.start] + self.replacement.encode() + data[self.end :]).decode()


class _Finder:
    """Walks one module's AST and lists its mutants (see the module docstring for the skips)."""

    def __init__(self, module: str, source: str) -> None:
        self.module = module
        self.source = source
        self.data = source.encode()
        self.line_starts = [0]
        for line in self.data.splitlines(keepends=True):
            self.line_starts.append(self.line_starts[-1] + len(line))
        self.lines = source.splitlines()
        self.codes = error_codes()
        self.mutants: list[Mutant] = []
        self.scope: list[str] = []  # the names of the functions and classes around the walk
        self.context = ""  # the statement being walked, as _header gives it

    # -- positions ----------------------------------------------------------------------------

    def _span(self, node: ast.expr | ast.stmt) -> tuple[int, int]:
        start = self.line_starts[node.lineno - 1] + node.col_offset
        end_line, end_col = node.end_lineno or node.lineno, node.end_col_offset or 0
        return start, self.line_starts[end_line - 1] + end_col

    def _marked(self, node: ast.expr | ast.stmt) -> bool:
        first, last = node.lineno, node.end_lineno or node.lineno
        return any(PRAGMA in self.lines[n - 1] for n in range(first, last + 1))

    def _add(
        self, node: ast.expr | ast.stmt, operator: str, what: str, text: str, parens: bool
    ) -> None:
        start, end = self._span(node)
        replacement = f"({text})" if parens else text
        function = ".".join(self.scope) or "<module>"
        mutated = f"{self.context}\0{ast.unparse(node)}"
        digest = hashlib.sha1(mutated.encode()).hexdigest()[:6]
        line, col = node.lineno, node.col_offset
        self.mutants.append(
            Mutant(
                self.module, function, line, col, operator, what, digest, start, end, replacement
            )
        )

    def _expr(self, node: ast.expr, new: ast.expr, operator: str, what: str, nested: bool) -> None:
        self._add(node, operator, what, ast.unparse(new), parens=nested)

    # -- walking ------------------------------------------------------------------------------

    def run(self, tree: ast.Module) -> list[Mutant]:
        self._body(tree.body, in_function=False)
        return self.mutants

    def _body(self, body: list[ast.stmt], in_function: bool) -> None:
        for index, statement in enumerate(body):
            docstring = (
                index == 0
                and isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            )
            if docstring or self._marked(statement) or self._instrumentation(statement):
                continue
            self._statement(statement, in_function)

    def _instrumentation(self, statement: ast.stmt) -> bool:
        if isinstance(statement, ast.Assert):
            return True
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            func = statement.value.func
            if isinstance(func, ast.Attribute):
                return func.attr == "_count" or _root_name(func.value) in INSTRUMENTATION_ATTRS
        if isinstance(statement, ast.AugAssign | ast.Assign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in SKIPPED_NAMES:
                    return True
                if isinstance(target, ast.Subscript) and _attr_name(target.value) == "outcomes":
                    return True
        return False

    def _statement(self, statement: ast.stmt, in_function: bool) -> None:
        scoped = isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.scope.append(statement.name)
        outer, self.context = self.context, _header(statement)
        if isinstance(statement, ast.Break | ast.Continue):  # no text of its own: its `if`'s
            self.context = f"{outer}\n{self.context}"
        try:
            self._parts(statement, in_function)
        finally:
            self.context = outer
            if scoped:
                self.scope.pop()

    def _parts(self, statement: ast.stmt, in_function: bool) -> None:
        if in_function and self._removable(statement):
            self._add(statement, "RemoveStatement", _first_line(statement), "pass", parens=False)
        if isinstance(statement, ast.Break):
            self._add(statement, "BreakContinue", "break→continue", "continue", parens=False)
        elif isinstance(statement, ast.Continue):
            self._add(statement, "BreakContinue", "continue→break", "break", parens=False)
        elif isinstance(statement, ast.Return) and statement.value is not None:
            self._return(statement)
        if isinstance(statement, ast.AugAssign) and type(statement.op) in (ast.Add, ast.Sub):
            swapped = ast.Sub() if isinstance(statement.op, ast.Add) else ast.Add()
            new = copy.copy(statement)
            new.op = swapped
            what = f"{_OP_TEXT[type(statement.op)]}=→{_OP_TEXT[type(swapped)]}="
            self._add(statement, "ArithmeticSwap", what, ast.unparse(new), parens=False)
        for name, value in ast.iter_fields(statement):
            if name in ("annotation", "returns", "type_comment", "decorator_list"):
                continue
            if name in ("body", "orelse", "finalbody"):
                self._body(value, in_function or isinstance(statement, ast.FunctionDef))
            elif name == "handlers":
                for handler in value:
                    self._body(handler.body, in_function)
            elif isinstance(value, ast.expr):
                self._expression(value, nested=False)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.expr):
                        self._expression(item, nested=False)
                    elif isinstance(item, ast.arguments):
                        for default in item.defaults + [d for d in item.kw_defaults if d]:
                            self._expression(default, nested=False)
                    elif isinstance(item, ast.withitem):
                        self._expression(item.context_expr, nested=False)
            elif isinstance(value, ast.arguments):
                for default in value.defaults + [d for d in value.kw_defaults if d]:
                    self._expression(default, nested=False)

    @staticmethod
    def _removable(statement: ast.stmt) -> bool:
        """Statements whose removal leaves valid code that runs: calls for their effect, updates
        of state (an attribute or item assigned, augmented or deleted)."""
        if isinstance(statement, ast.Expr):
            return isinstance(statement.value, ast.Call)
        if isinstance(statement, ast.AugAssign | ast.Delete):
            return True
        if isinstance(statement, ast.Assign):
            return all(isinstance(t, ast.Attribute | ast.Subscript) for t in statement.targets)
        return False

    def _return(self, statement: ast.Return) -> None:
        value = statement.value
        assert value is not None
        if isinstance(value, ast.Constant) and isinstance(value.value, bool):
            new = "return False" if value.value else "return True"
            self._add(statement, "ReturnValue", f"{value.value}→{not value.value}", new, False)
        elif not (isinstance(value, ast.Constant) and value.value is None):
            self._add(statement, "ReturnValue", "→None", "return None", parens=False)

    def _expression(self, node: ast.expr, nested: bool) -> None:
        if self._marked(node):
            return
        if isinstance(node, ast.Compare):
            for index, op in enumerate(node.ops):
                swapped = _COMPARE_SWAPS.get(type(op))
                if swapped is None:
                    continue
                new = copy.copy(node)
                new.ops = [*node.ops[:index], swapped(), *node.ops[index + 1 :]]
                what = f"{_OP_TEXT[type(op)]}→{_OP_TEXT[swapped]}"
                self._expr(node, new, "CompareSwap", what, nested)
        elif isinstance(node, ast.BoolOp):
            swapped_bool = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            new_bool = copy.copy(node)
            new_bool.op = swapped_bool
            what = f"{_OP_TEXT[type(node.op)]}→{_OP_TEXT[type(swapped_bool)]}"
            self._expr(node, new_bool, "BoolSwap", what, nested)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self._expr(node, node.operand, "RemoveNot", "not x→x", nested=True)
        elif isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub):
            swapped_op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            new_bin = copy.copy(node)
            new_bin.op = swapped_op
            what = f"{_OP_TEXT[type(node.op)]}→{_OP_TEXT[type(swapped_op)]}"
            self._expr(node, new_bin, "ArithmeticSwap", what, nested)
        elif isinstance(node, ast.Constant):
            self._constant(node)
        elif isinstance(node, ast.Attribute) and _root_name(node) == "ErrorCode":
            self._error_code(node)
        elif isinstance(node, ast.Call):
            self._call(node)
            return
        elif isinstance(node, ast.Lambda | ast.JoinedStr):
            return  # lambdas hold one expression each, already covered by what they call
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self._expression(child, nested=True)
            elif isinstance(child, ast.comprehension):
                for part in (child.iter, *child.ifs):
                    self._expression(part, nested=True)

    def _call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute) and node.func.attr == "_count":
            return
        unseen = UNSEEN_ARGUMENT.get(_callee(node.func))
        self._expression(node.func, nested=True)
        for index, argument in enumerate(node.args):
            if index != unseen:
                self._expression(argument, nested=True)
        for keyword in node.keywords:
            if keyword.arg != "outcome":
                self._expression(keyword.value, nested=True)

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int):
            for new in (value + 1, value - 1):
                self._add(node, "ConstantChange", f"{value}→{new}", repr(new), new < 0)
        elif isinstance(value, str) and value in self.codes:
            following = self.codes[(self.codes.index(value) + 1) % len(self.codes)]
            self._add(node, "ErrorCodeChange", f"{value}→{following}", repr(following), False)

    def _error_code(self, node: ast.Attribute) -> None:
        """`ErrorCode.NAME_TAKEN` is the string `name_taken`: mutated like it, to the next code."""
        value = node.attr.lower()
        if value in self.codes:
            following = self.codes[(self.codes.index(value) + 1) % len(self.codes)]
            replacement = f"ErrorCode.{following.upper()}"
            self._add(node, "ErrorCodeChange", f"{value}→{following}", replacement, False)


def _root_name(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _attr_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else ""


def _callee(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _header(statement: ast.stmt) -> str:
    """The statement's own source without the statements it holds: a simple statement whole, an
    `if` its condition, a `for` its target and iterable, a `def` its name and arguments."""
    parts = [type(statement).__name__]
    for name, value in ast.iter_fields(statement):
        if name in ("body", "orelse", "finalbody", "handlers", "cases", "type_comment"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ast.AST):
                parts.append(ast.unparse(item))
            elif item is not None:
                parts.append(repr(item))
    return "\n".join(parts)


def _first_line(statement: ast.stmt) -> str:
    return ast.unparse(statement).splitlines()[0][:60]


def find_mutants(root: Path, module: str) -> list[Mutant]:
    """Every mutant of `module` (a path relative to `root`), in source order; each compiles."""
    if module in SKIPPED_MODULES:
        return []
    source = (root / module).read_text()
    mutants = _Finder(module, source).run(ast.parse(source))
    valid = []
    for mutant in mutants:
        try:
            compile(mutant.apply(source), module, "exec")
        except SyntaxError:
            continue  # e.g. `continue` moved where a loop does not enclose it
        valid.append(mutant)
    valid.sort(key=lambda m: (m.start, m.end, m.operator, m.what))
    seen: dict[tuple[str, ...], int] = {}
    for index, mutant in enumerate(valid):
        count = seen[mutant.twins] = seen.get(mutant.twins, 0) + 1
        if count > 1:
            valid[index] = dataclasses.replace(mutant, ordinal=count)
    return valid


def all_mutants(root: Path, package: str = "engine") -> Iterator[Mutant]:
    for path in sorted((root / package).glob("*.py")):
        yield from find_mutants(root, path.relative_to(root).as_posix())
