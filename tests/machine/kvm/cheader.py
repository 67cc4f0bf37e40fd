"""Read numbers out of the kernel's UAPI C headers, without a C compiler.

Just enough of the C preprocessor and of the arm64 (LP64) struct layout rules
to evaluate the ``#define`` constants, the ``_IO``/``_IOR``/``_IOW``/``_IOWR``
request numbers and the ``enum`` values of ``linux/kvm.h`` and ``asm/kvm.h``.
It exists so the UAPI test takes its expected values from the kernel's own
files instead of from the constants under test.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_DEFINE = re.compile(r"^\s*#\s*define\s+(\w+)(\(([^)]*)\))?[ \t]*(.*)$", re.M)
_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_TOKEN = re.compile(r"\s*(\w+|\[|\]|\{|\}|;|,|\*|\(|\)|:|=)")

#: Scalar types of the UAPI headers: (size, alignment) on arm64.
_SCALARS = {
    "__u8": 1, "__s8": 1, "char": 1, "__u16": 2, "__s16": 2, "__be16": 2,
    "__u32": 4, "__s32": 4, "int": 4, "__be32": 4, "__u64": 8, "__s64": 8,
    "long": 8, "__be64": 8, "__kernel_ulong_t": 8,
}  # fmt: skip
_BINOPS: dict[type[ast.AST], Callable[[int, int], int]] = {
    ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.Add: operator.add,
    ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
}  # fmt: skip


class HeaderError(Exception):
    """A name could not be evaluated from the headers."""


@dataclass
class Headers:
    """The macros, enums and structs of a set of C header files."""

    #: Object-like macros: name -> body.
    objects: dict[str, str] = field(default_factory=dict)
    #: Function-like macros: name -> (parameters, body).
    functions: dict[str, tuple[list[str], str]] = field(default_factory=dict)
    #: Enumerators: name -> value.
    enums: dict[str, int] = field(default_factory=dict)
    #: Struct and union bodies by tag: tag -> (is_union, body text).
    aggregates: dict[str, tuple[bool, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, *paths: Path, extra: dict[str, str] | None = None) -> Headers:
        """Parse *paths*; *extra* adds macros a header uses but never defines."""
        headers = cls()
        for path in paths:
            headers._parse(path.read_text(encoding="utf-8"))
        headers.objects.update(extra or {})
        return headers

    def _parse(self, text: str) -> None:
        text = _COMMENT.sub(" ", text).replace("\\\n", " ")
        for match in _DEFINE.finditer(text):
            name, params, body = match.group(1), match.group(3), match.group(4)
            if params is None:
                self.objects[name] = body.strip()
            else:
                names = [p.strip() for p in params.split(",") if p.strip()]
                self.functions[name] = (names, body.strip())
        code = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
        for kind, tag, start in _aggregate_starts(code):
            body = _braced(code, start)
            if kind == "enum":
                self._enum(body)
            elif tag:
                self.aggregates[tag] = (kind == "union", body)
        for match in re.finditer(r"\benum\s*\{", code):
            self._enum(_braced(code, match.end() - 1))

    def _enum(self, body: str) -> None:
        current = -1
        for item in body.split(","):
            if not item.strip():
                continue
            name, _, expr = item.partition("=")
            current = self.eval(expr) if expr.strip() else current + 1
            self.enums[name.strip()] = current

    def defined(self, name: str) -> bool:
        """Whether *name* is a macro or an enumerator of these headers."""
        return name in self.objects or name in self.enums

    def value(self, name: str) -> int:
        """Evaluate the macro or enumerator *name*.

        Raises:
            HeaderError: It is not defined or not an integer expression.
        """
        if name in self.enums:
            return self.enums[name]
        if name not in self.objects:
            raise HeaderError(f"{name} is not defined in the headers")
        return self.eval(self.objects[name])

    def eval(self, expr: str) -> int:
        """Evaluate a C integer expression using the headers' macros."""
        python = self._expand(expr, depth=0)
        python = _SUFFIX.sub(r"\1", python)
        try:
            tree = ast.parse(python.strip(), mode="eval")
        except SyntaxError as exc:
            raise HeaderError(f"cannot evaluate {expr!r} (as {python!r})") from exc
        return _evaluate(tree.body, expr)

    def _expand(self, expr: str, depth: int) -> str:
        if depth > 40:
            raise HeaderError(f"macro expansion of {expr!r} does not end")
        expr = self._sizeofs(expr)
        out, pos = [], 0
        for match in _IDENT.finditer(expr):
            if match.start() < pos:
                continue
            name = match.group()
            out.append(expr[pos : match.start()])
            pos = match.end()
            if name in self.functions:
                args, pos = _call_args(expr, pos, name)
                params, body = self.functions[name]
                for param, arg in zip(params, args, strict=True):
                    body = re.sub(rf"\b{param}\b", f"({arg})", body)
                out.append(f"({self._expand(body, depth + 1)})")
            elif name in self.objects:
                out.append(f"({self._expand(self.objects[name], depth + 1)})")
            elif name in self.enums:
                out.append(str(self.enums[name]))
            else:
                out.append(name)
        out.append(expr[pos:])
        return "".join(out)

    def _sizeofs(self, expr: str) -> str:
        # _IOC_TYPECHECK(t) is sizeof(t); both take a type name.
        pattern = re.compile(r"\b(?:sizeof|_IOC_TYPECHECK)\s*\(")
        while (match := pattern.search(expr)) is not None:
            args, end = _call_args(expr, match.end() - 1, "sizeof")
            expr = f"{expr[: match.start()]}{self.sizeof(args[0])}{expr[end:]}"
        return expr

    def sizeof(self, type_name: str) -> int:
        """Return the arm64 size of a scalar type or ``struct``/``union`` tag."""
        return self.layout(type_name)[0]

    def layout(self, type_name: str) -> tuple[int, int]:
        """Return (size, alignment) of *type_name* on arm64."""
        type_name = type_name.strip()
        while type_name.startswith("(") and type_name.endswith(")"):
            type_name = type_name[1:-1].strip()
        words = type_name.replace("unsigned", " ").replace("signed", " ").split()
        if words and words[0] in ("struct", "union"):
            tag = words[1]
            if tag not in self.aggregates:
                raise HeaderError(f"{words[0]} {tag} is not defined in the headers")
            is_union, body = self.aggregates[tag]
            return self._aggregate(body, is_union)
        key = words[-1] if words else "int"
        if key not in _SCALARS:
            raise HeaderError(f"unknown type {type_name!r}")
        return _SCALARS[key], _SCALARS[key]

    def _aggregate(self, body: str, is_union: bool) -> tuple[int, int]:
        size = align = 1
        offset = 0
        for member_size, member_align in self._members(body):
            align = max(align, member_align)
            if is_union:
                size = max(size, member_size)
            else:
                offset = -(-offset // member_align) * member_align + member_size
        total = size if is_union else offset
        return -(-total // align) * align, align

    def _members(self, body: str) -> list[tuple[int, int]]:
        members: list[tuple[int, int]] = []
        pos = 0
        while pos < len(body):
            nested = re.match(r"\s*(struct|union)\s*(\w*)\s*\{", body[pos:])
            if nested is not None:
                start = pos + nested.end() - 1
                inner = _braced(body, start)
                end = body.index(";", start + len(inner) + 2)
                declarator = body[start + len(inner) + 2 : end]
                base = self._aggregate(inner, nested.group(1) == "union")
                members.append(_declare(base, declarator, self))
                pos = end + 1
                continue
            end = body.find(";", pos)
            if end < 0:
                break
            decl = body[pos:end].strip()
            pos = end + 1
            if not decl:
                continue
            match = re.match(r"(.*?)(\w+)\s*((?:\[[^\]]*\]\s*)*)$", decl)
            if match is None:
                raise HeaderError(f"cannot read member {decl!r}")
            base_type = match.group(1).replace("*", " ").strip()
            pointer = "*" in match.group(1)
            base = (8, 8) if pointer else self.layout(base_type)
            members.append(_declare(base, match.group(2) + match.group(3), self))
        return members


def _declare(
    base: tuple[int, int], declarator: str, headers: Headers
) -> tuple[int, int]:
    size, align = base
    for dim in re.findall(r"\[([^\]]*)\]", declarator):
        size *= headers.eval(dim) if dim.strip() else 0
    return size, align


def _aggregate_starts(code: str) -> list[tuple[str, str, int]]:
    found = []
    for match in re.finditer(r"\b(struct|union|enum)\s+(\w+)\s*\{", code):
        found.append((match.group(1), match.group(2), match.end() - 1))
    return found


def _braced(text: str, start: int) -> str:
    """Return the text between the brace at *start* and its partner."""
    depth = 0
    for pos in range(start, len(text)):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : pos]
    raise HeaderError("unbalanced braces")


def _call_args(expr: str, pos: int, name: str) -> tuple[list[str], int]:
    open_at = expr.index("(", pos)
    if expr[pos:open_at].strip():
        raise HeaderError(f"{name} used without arguments in {expr!r}")
    depth = 0
    args: list[str] = []
    current: list[str] = []
    for index in range(open_at, len(expr)):
        char = expr[index]
        if char == "(":
            depth += 1
            if depth == 1:
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                return args, index + 1
        elif char == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    raise HeaderError(f"unbalanced parentheses in {expr!r}")


def _evaluate(node: ast.AST, source: str) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _evaluate(node.left, source), _evaluate(node.right, source)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand, source)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        return ~_evaluate(node.operand, source)
    raise HeaderError(f"{source!r} is not an integer constant expression")
