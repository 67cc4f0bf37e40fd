"""Mutation testing for notifiers/ and machine/kvm/ (a benchmark, not CI).

Coverage says a line ran; it does not say a test would notice if the line were
wrong. This script makes small, deterministic changes ("mutants") to one module
at a time with the standard library's :mod:`ast` -- a flipped comparison,
``and`` for ``or``, ``+`` for ``-``, an integer off by one, ``True`` for
``False``, ``None`` returned where the function may return ``None``, a
``raise`` turned into ``pass``, an ``if`` condition negated -- and runs the
tests that belong to the module. A mutant is *killed* when a test fails,
*survives* when they all pass, and *times out* when the run takes much longer
than the unmutated one (an endless loop, which counts as caught).

The worktree is never written: the tree is copied once per worker into a
temporary directory, each mutant is written over the file in that copy, and
pytest runs there with ``PYTHONPATH`` pointing at the copy's ``.pkg`` so that
``virtmodel.*`` imports load the copy, not the editable install.

Run from the repository root (takes minutes; the sample is seeded)::

    python bench/mutation.py --package notifiers --sample 200 --seed 1
    python bench/mutation.py --package machine/kvm --sample 200 --seed 1
    python bench/mutation.py --package notifiers --list      # count mutants

It prints per-module and total scores and lists the survivors as
``file:line  mutation``. It is not collected by pytest and not run in CI.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

ROOT = Path(__file__).resolve().parent.parent

#: Packages this script knows how to test, and the tests that belong to them.
PACKAGES: dict[str, list[str]] = {
    "notifiers": ["tests/notifiers"],
    "machine/kvm": ["tests/machine/kvm"],
}

_COMPARE_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINOP_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
}
_SYMBOL = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.And: "and",
    ast.Or: "or",
}


@dataclass(frozen=True)
class Mutant:
    """One change to one module: the ``index``-th candidate of its file."""

    path: str  # relative to the repository root
    index: int
    line: int
    label: str
    end_line: int = 0
    stmt_line: int = 0

    @property
    def key(self) -> str:
        """Return a stable name for the mutant, usable with ``--only``."""
        return f"{self.path}#{self.index}"


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Return ids of nodes that are annotations or type-checking-only code.

    Mutating ``X | None`` in an annotation or an ``if TYPE_CHECKING:`` block
    changes nothing at run time, so such mutants would only be noise.
    """
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation:
            roots.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            roots.append(node.returns)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            roots.append(node)
    return {id(sub) for root in roots for sub in ast.walk(root)}


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {
        id(child): parent
        for parent in ast.walk(tree)
        for child in ast.iter_child_nodes(parent)
    }


def _enclosing_function(
    node: ast.AST, parents: dict[int, ast.AST]
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    cur = parents.get(id(node))
    while cur is not None:
        if isinstance(cur, ast.FunctionDef | ast.AsyncFunctionDef):
            return cur
        cur = parents.get(id(cur))
    return None


def _returns_optional(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if func.returns is None:
        return False
    text = ast.unparse(func.returns)
    return "Optional" in text or "None |" in text or "| None" in text


def _replace_stmt(parent: ast.AST, old: ast.stmt, new: ast.stmt) -> None:
    for field in ("body", "orelse", "finalbody", "handlers"):
        seq = getattr(parent, field, None)
        if isinstance(seq, list) and any(s is old for s in seq):
            seq[next(i for i, s in enumerate(seq) if s is old)] = new
            return
    msg = f"statement not found in its parent at line {old.lineno}"
    raise AssertionError(msg)


Change = tuple[str, Callable[[], None]]


def _changes(node: ast.AST, parents: dict[int, ast.AST]) -> Iterator[Change]:
    """Yield (label, apply) for every mutation this node allows, in order."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            new = _COMPARE_SWAP.get(type(op))
            if new is not None:

                def swap(i: int = i, new: type[ast.cmpop] = new) -> None:
                    node.ops[i] = new()

                yield f"{_SYMBOL[type(op)]} -> {_SYMBOL[new]}", swap
    elif isinstance(node, ast.BinOp):
        new_op = _BINOP_SWAP.get(type(node.op))
        # String formatting and concatenation are not arithmetic.
        if new_op is not None and not isinstance(node.left, ast.JoinedStr):

            def binop(new: type[ast.operator] = new_op) -> None:
                node.op = new()

            yield f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[new_op]}", binop
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And

        def boolop() -> None:
            node.op = other()

        yield f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[other]}", boolop
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        parent = parents[id(node)]

        def drop_not() -> None:
            for field, value in ast.iter_fields(parent):
                if value is node:
                    setattr(parent, field, node.operand)
                elif isinstance(value, list):
                    for i, item in enumerate(value):
                        if item is node:
                            value[i] = node.operand

        yield "not x -> x", drop_not
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):

            def flip() -> None:
                node.value = not value

            yield f"{value} -> {not value}", flip
        elif isinstance(value, int):

            def bump() -> None:
                node.value = value + 1

            yield f"{value} -> {value + 1}", bump
    elif isinstance(node, ast.Return) and node.value is not None:
        func = _enclosing_function(node, parents)
        is_none = isinstance(node.value, ast.Constant) and node.value.value is None
        if func is not None and _returns_optional(func) and not is_none:

            def to_none() -> None:
                node.value = ast.Constant(value=None)

            yield "return x -> return None", to_none
    elif isinstance(node, ast.Raise):
        parent = parents[id(node)]

        def no_raise() -> None:
            _replace_stmt(parent, node, ast.Pass())

        yield "raise -> pass", no_raise
    if isinstance(node, ast.If | ast.While) and not isinstance(node.test, ast.Constant):

        def negate() -> None:
            node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)

        yield "if c -> if not c", negate


def _candidates(tree: ast.AST) -> Iterator[tuple[ast.AST, str, Callable[[], None]]]:
    skipped = _skipped_nodes(tree)
    parents = _parents(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        # Docstrings and other bare expression strings are left alone.
        for label, apply in _changes(node, parents):
            yield node, label, apply


def _statement_line(tree: ast.AST, target: ast.AST) -> int:
    """Return the first line of the statement that holds *target*.

    Coverage records a multi-line statement at its first line; a constant
    folded into a tuple on a later line has no line of its own.
    """
    parents = _parents(tree)
    node: ast.AST | None = target
    while node is not None and not isinstance(node, ast.stmt):
        node = parents.get(id(node))
    return int(getattr(node, "lineno", 0))


def enumerate_mutants(path: str) -> list[Mutant]:
    """Return every mutant of the module at ``path`` (relative to the root)."""
    tree = ast.parse(_source(path), filename=path)
    return [
        Mutant(
            path,
            i,
            getattr(node, "lineno", 0),
            label,
            getattr(node, "end_lineno", 0) or getattr(node, "lineno", 0),
            _statement_line(tree, node),
        )
        for i, (node, label, _) in enumerate(_candidates(tree))
    ]


@functools.cache
def _source(path: str) -> str:
    """Return a module's text as first read: mutants index into this snapshot.

    Reading the working tree again for each mutant broke a run whose sources
    were edited meanwhile (the mutant indices no longer matched).
    """
    return (ROOT / path).read_text()


def mutated_source(mutant: Mutant) -> str:
    """Return the source of the module with ``mutant`` applied."""
    tree = ast.parse(_source(mutant.path), filename=mutant.path)
    for i, (_, label, apply) in enumerate(_candidates(tree)):
        if i == mutant.index:
            if label != mutant.label:
                msg = f"{mutant.key}: expected {mutant.label!r}, found {label!r}"
                raise AssertionError(msg)
            apply()
            return ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    msg = f"{mutant.key}: no such mutant"
    raise AssertionError(msg)


def modules(package: str) -> list[str]:
    """Return the package's Python files, relative to the root, sorted."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*.py"))


def tests_for(path: str, package: str) -> list[list[str]]:
    """Return the test runs for a module: its own test file, then all tests.

    Most mutants are killed by the module's own test file, which starts in a
    fraction of the time the whole package's tests take to collect; only the
    mutants that survive it pay for the full run.
    """
    stem = Path(path).stem
    roots = PACKAGES[package]
    own = [
        str(p.relative_to(ROOT))
        for root in roots
        for p in sorted((ROOT / root).rglob(f"test_{stem}.py"))
    ]
    return [own, roots] if own else [roots]


def _nodeid(context: str) -> str | None:
    """Turn coverage's ``tests.pkg.test_mod.Class.test_fn`` into a pytest id."""
    parts = context.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        path = Path(*parts[:cut]).with_suffix(".py")
        if (ROOT / path).is_file():
            return "::".join([str(path), *parts[cut:]])
    return None


def coverage_map(ws: Workspace, package: str) -> dict[str, dict[int, set[str]]]:
    """Return, per module, which tests run each line (one coverage run).

    Lines run only at import time (no test context) map to an empty set.
    A test that never executes a mutated line cannot kill the mutant, so
    each mutant only runs the tests that reach it: the standard trick of
    mutation tools, and the difference between hours and minutes here.
    """
    rc = ws.root / ".mutation-coveragerc"
    rc.write_text("[run]\nbranch = false\ndynamic_context = test_function\n")
    data = ws.root / ".mutation-coverage"
    cmd = [
        sys.executable, "-m", "coverage", "run", f"--rcfile={rc}",
        f"--data-file={data}", f"--source={ws.root / package}",
        "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "--hypothesis-profile=virtmodel-ci", "-m", "not realkvm",
        "-o", "addopts=--import-mode=importlib", *PACKAGES[package],
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=ws.root, env=ws.env, check=False,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    if proc.returncode != 0:
        tail = proc.stdout.decode(errors="replace")[-2000:]
        msg = f"the unmutated tests fail under coverage:\n{tail}"
        raise RuntimeError(msg)
    out = ws.root / ".mutation-coverage.json"
    subprocess.run(
        [sys.executable, "-m", "coverage", "json", f"--rcfile={rc}",
         f"--data-file={data}", "--show-contexts", "-o", str(out)],
        cwd=ws.root, env=ws.env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result: dict[str, dict[int, set[str]]] = {}
    for name, info in json.loads(out.read_text())["files"].items():
        rel = (ws.root / name).resolve()
        try:
            key = str(rel.relative_to(ws.root.resolve()))
        except ValueError:
            continue
        lines: dict[int, set[str]] = {}
        for line, contexts in info.get("contexts", {}).items():
            ids = {_nodeid(ctx) for ctx in contexts if ctx}
            lines[int(line)] = {i for i in ids if i is not None}
        result[key] = lines
    if not any(key.startswith(package) for key in result):
        msg = f"coverage saw no module of {package}: {sorted(result)[:3]}"
        raise RuntimeError(msg)
    return result


def select_tests(
    mutant: Mutant, package: str, cover: dict[str, dict[int, set[str]]] | None
) -> list[list[str]] | None:
    """Return the test runs for a mutant; None when no test reaches its line."""
    stages = tests_for(mutant.path, package)
    if cover is None:
        return stages
    lines = cover.get(mutant.path, {})
    reached = [lines[n] for n in range(mutant.line, mutant.end_line + 1) if n in lines]
    if not reached and mutant.stmt_line in lines:
        reached = [lines[mutant.stmt_line]]
    if not reached:
        return None
    ids = set().union(*reached)
    if any(not r for r in reached) or not ids:
        return stages  # import-time code: every test depends on it
    return [sorted(ids)]


class Workspace:
    """A private copy of the tree in which mutants are written and tested."""

    def __init__(self, base: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="virtmodel-mut-", dir=base))
        ignore = shutil.ignore_patterns(
            ".git", "__pycache__", "*.egg-info", ".hypothesis", ".mypy_cache",
            ".ruff_cache", ".pytest_cache", ".venv", ".assets", "build", "dist",
        )  # fmt: skip
        shutil.copytree(
            ROOT, self.root, symlinks=True, ignore=ignore, dirs_exist_ok=True
        )
        self.pycache = self.root / ".mutation-pycache"
        self.env = dict(os.environ)
        self.env.update(
            PYTHONPATH=str(self.root / ".pkg"),
            PYTHONPYCACHEPREFIX=str(self.pycache),
            PYTHONHASHSEED="0",
            CI="false",
        )

    def _forget_bytecode(self, path: str) -> None:
        stem = Path(path).stem
        parent = Path(path).parent.name
        for pyc in self.pycache.rglob(f"{stem}.*.pyc"):
            if pyc.parent.name == parent:
                pyc.unlink()

    def pytest(self, tests: list[str], timeout: float) -> tuple[str, float]:
        """Run pytest on ``tests``; return ("passed"|"failed"|"timeout", secs)."""
        cmd = [
            sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
            "--hypothesis-profile=virtmodel-ci", "-m", "not realkvm",
            "-o", "addopts=--import-mode=importlib", *tests,
        ]  # fmt: skip
        start = time.monotonic()
        try:
            proc = subprocess.run(
                cmd, cwd=self.root, env=self.env, timeout=timeout,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return "timeout", time.monotonic() - start
        took = time.monotonic() - start
        if proc.returncode == 0:
            return "passed", took
        # 1: tests failed; 2: interrupted (an import error); 4: the given test
        # ids could not be collected because the mutant breaks an import.
        if proc.returncode in (1, 2, 4):
            return "failed", took
        tail = proc.stdout.decode(errors="replace")[-2000:]
        msg = f"pytest exited {proc.returncode} on {tests}:\n{tail}"
        raise RuntimeError(msg)

    def run(self, mutant: Mutant, stages: list[list[str]], timeout: float) -> str:
        """Write the mutant, test it, restore the original; return the verdict."""
        target = self.root / mutant.path
        original = target.read_text()
        target.write_text(mutated_source(mutant))
        self._forget_bytecode(mutant.path)
        try:
            for tests in stages:
                outcome, _ = self.pytest(tests, timeout)
                if outcome != "passed":
                    break
        finally:
            target.write_text(original)
            self._forget_bytecode(mutant.path)
        return {"passed": "survived", "failed": "killed"}.get(outcome, outcome)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the sample, print scores; exit 0 (scores are data)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", choices=sorted(PACKAGES), required=True)
    parser.add_argument("--sample", type=int, default=0, help="0 = every mutant")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--timeout", type=float, default=0, help="seconds; 0 = 4x the baseline run"
    )
    parser.add_argument(
        "--all-tests",
        action="store_true",
        help="run the package's tests for every mutant, not just those that reach it",
    )
    parser.add_argument("--only", nargs="*", default=[], help="mutant keys")
    parser.add_argument("--list", action="store_true", help="count, run nothing")
    parser.add_argument("--json", type=Path, help="also write results here")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.sample < 0:
        parser.error("--jobs must be >= 1 and --sample >= 0")

    everything = [m for path in modules(args.package) for m in enumerate_mutants(path)]
    if args.only:
        by_key = {m.key: m for m in everything}
        unknown = [k for k in args.only if k not in by_key]
        if unknown:
            parser.error(f"unknown mutant keys: {', '.join(unknown)}")
        chosen = [by_key[k] for k in args.only]
    elif args.sample and args.sample < len(everything):
        # Kept in sampled order: any prefix of a run is itself a seeded
        # random sample, so an interrupted run's log is still a fair score.
        chosen = random.Random(args.seed).sample(everything, args.sample)
    else:
        chosen = everything
    print(f"{args.package}: {len(everything)} mutants, running {len(chosen)}")
    if args.list:
        for path, count in sorted(Counter(m.path for m in everything).items()):
            print(f"  {path}: {count}")
        return 0

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    base = Path(tempfile.mkdtemp(prefix="virtmodel-mutation-"))
    results: dict[Mutant, str] = {}
    start = time.monotonic()
    try:
        pool: Queue[Workspace] = Queue()
        for _ in range(args.jobs):
            pool.put(Workspace(base))
        # The unmutated tree must pass; its time sets the timeout, and its
        # coverage contexts say which tests reach each line.
        ws = pool.get()
        took = time.monotonic()
        cover = None if args.all_tests else coverage_map(ws, args.package)
        if cover is None:
            outcome, _ = ws.pytest(PACKAGES[args.package], timeout=1800)
            if outcome != "passed":
                print(f"the unmutated tests fail ({outcome})")
                return 1
        took = time.monotonic() - took
        pool.put(ws)
        timeout = args.timeout or max(60.0, 4 * took)
        print(f"baseline {took:.1f}s, timeout {timeout:.0f}s", flush=True)

        def one(mutant: Mutant) -> tuple[Mutant, str]:
            ws = pool.get()
            try:
                stages = select_tests(mutant, args.package, cover)
                if stages is None:
                    verdict = "unreached"  # no test runs the line: a survivor
                else:
                    verdict = ws.run(mutant, stages, timeout)
            finally:
                pool.put(ws)
            return mutant, verdict

        start = time.monotonic()
        ex = ThreadPoolExecutor(max_workers=args.jobs)
        try:
            for n, (mutant, verdict) in enumerate(ex.map(one, chosen), 1):
                results[mutant] = verdict
                print(
                    f"  [{n}/{len(chosen)}] {verdict:<8} {mutant.path}:{mutant.line}"
                    f"  {mutant.label}  [{mutant.key}]",
                    flush=True,
                )
        finally:
            ex.shutdown(wait=False, cancel_futures=True)
        elapsed = time.monotonic() - start
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: report what ran (a prefix of the seeded order).
        elapsed = time.monotonic() - start
        print(f"interrupted after {len(results)} of {len(chosen)} mutants")
    finally:
        shutil.rmtree(base, ignore_errors=True)

    report(args, results, elapsed)
    return 0


def report(
    args: argparse.Namespace, results: dict[Mutant, str], elapsed: float
) -> None:
    """Print per-module and total scores and the survivors."""
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for mutant, verdict in results.items():
        per[mutant.path]["survived" if verdict == "unreached" else verdict] += 1
    print(f"\n{'module':<40} {'killed':>6} {'timeout':>7} {'survived':>8} {'score':>6}")
    total: Counter[str] = Counter()
    for path in sorted(per):
        c = per[path]
        total.update(c)
        n = sum(c.values())
        score = 100 * (c["killed"] + c["timeout"]) / n
        counts = f"{c['killed']:>6} {c['timeout']:>7} {c['survived']:>8}"
        print(f"{path:<40} {counts} {score:>5.0f}%")
    n = sum(total.values())
    caught = total["killed"] + total["timeout"]
    print(
        f"{'TOTAL':<40} {total['killed']:>6} {total['timeout']:>7} "
        f"{total['survived']:>8} {100 * caught / max(n, 1):>5.1f}%"
    )
    print(
        f"\n{caught} of {n} caught ({total['timeout']} by timeout) in "
        f"{elapsed:.0f}s; seed {args.seed}, sample {args.sample or 'all'}"
    )
    alive = ("survived", "unreached")
    survivors = sorted(
        (m for m, v in results.items() if v in alive),
        key=lambda m: (m.path, m.line, m.index),
    )
    if survivors:
        print("\nsurvivors:")
        for m in survivors:
            print(f"  {m.path}:{m.line}  {m.label}  [{m.key}]")
    if args.json:
        rows = [
            {"key": m.key, "line": m.line, "label": m.label, "verdict": v}
            for m, v in sorted(results.items(), key=lambda kv: kv[0].key)
        ]
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
