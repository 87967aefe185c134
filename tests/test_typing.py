"""src/fastsgd/_core.pyi against the compiled module: a test fails when they drift.

pybind11 writes each binding's signature into the first line of its docstring,
``name(X: numpy.ndarray, b: object = None, threads: typing.SupportsInt | ... = 0) -> tuple``.
These tests read those lines and compare them with the stub: the same functions,
classes and methods; the same parameters in the same order with the same defaults;
compatible parameter and return types. With mypy installed, ``mypy.stubtest``
checks the module as well (``nox -s lint`` runs this file with mypy); it finds
missing and extra names, but pybind11 functions carry no ``__text_signature__``,
so the parameters are checked only by the tests here.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import inspect
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

import fastsgd
from fastsgd import _core

STUB = Path(fastsgd.__file__).with_name("_core.pyi")


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str  # as written (pybind11's spelling or the stub's, after alias expansion)
    default: Any  # _NO_DEFAULT when there is none
    kw_only: bool = False


_NO_DEFAULT = object()


@dataclass(frozen=True)
class Signature:
    params: tuple[Param, ...]
    returns: str


# --- the runtime side: pybind11's docstring signatures --------------------------------------


def _split_top_level(text: str) -> list[str]:
    """Split at commas that are not inside brackets or parentheses."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _split_annotation_default(text: str) -> tuple[str, str | None]:
    """``T = default`` (the first ' = ' outside brackets) into (T, default)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0 and text.startswith(" = ", i):
            return text[:i].strip(), text[i + 3 :].strip()
    return text.strip(), None


def _runtime_signature(obj: Any, name: str) -> Signature:
    doc = obj.__doc__ or ""
    first = doc.lstrip().splitlines()[0] if doc.strip() else ""
    m = re.fullmatch(rf"{re.escape(name)}\((?P<params>.*)\) -> (?P<ret>.+)", first)
    assert m is not None, f"{name}: no pybind11 signature line in its docstring: {first!r}"
    params = []
    kw_only = False
    for part in _split_top_level(m["params"]):
        if part == "*":
            kw_only = True
            continue
        pname, _, rest = part.partition(": ")
        annotation, default = _split_annotation_default(rest)
        value = _NO_DEFAULT if default is None else ast.literal_eval(default)
        params.append(Param(pname.strip(), annotation, value, kw_only))
    return Signature(tuple(params), m["ret"].strip())


def _runtime_functions() -> dict[str, Any]:
    return {
        n: o
        for n, o in vars(_core).items()
        if not n.startswith("_") and callable(o) and not inspect.isclass(o)
    }


def _runtime_classes() -> dict[str, type]:
    return {n: o for n, o in vars(_core).items() if not n.startswith("_") and inspect.isclass(o)}


def _runtime_methods(cls: type) -> dict[str, Any]:
    """The bound methods of a class (static ones included), and its constructor when it has
    one (pybind11 then writes ``__init__(self: ...)`` into its docstring)."""
    out = {}
    for n in vars(cls):
        o = getattr(cls, n)  # through the descriptor: a static method's function
        if n == "__init__" and not (o.__doc__ or "").lstrip().startswith("__init__("):
            continue  # no constructor: made by the core only
        if (not n.startswith("_") or n == "__init__") and callable(o) and o.__doc__:
            out[n] = o
    return out


# --- the stub side -----------------------------------------------------------------------------


def _stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Module-level aliases (``_F64: TypeAlias = ...``) and TypedDicts (as ``dict``)."""
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.value is not None and ast.unparse(node.annotation) == "TypeAlias":
                out[node.target.id] = ast.unparse(node.value)
        elif isinstance(node, ast.ClassDef) and any(
            ast.unparse(b) == "TypedDict" for b in node.bases
        ):
            out[node.name] = "dict"
    return out


def _expand(annotation: str, aliases: dict[str, str]) -> str:
    for _ in range(5):  # aliases of aliases
        for alias, target in aliases.items():
            annotation = re.sub(rf"\b{re.escape(alias)}\b", target, annotation)
    return annotation


def _stub_signature(fn: ast.FunctionDef, aliases: dict[str, str]) -> Signature:
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    defaults: list[Any] = [_NO_DEFAULT] * (len(positional) - len(a.defaults))
    defaults += [ast.literal_eval(d) for d in a.defaults]
    params = [
        Param(p.arg, _expand(ast.unparse(p.annotation) if p.annotation else "", aliases), d)
        for p, d in zip(positional, defaults, strict=True)
    ]
    for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        value = _NO_DEFAULT if d is None else ast.literal_eval(d)
        params.append(Param(p.arg, _expand(ast.unparse(p.annotation), aliases), value, True))
    returns = _expand(ast.unparse(fn.returns), aliases) if fn.returns else ""
    return Signature(tuple(params), returns)


def _is_overload(fn: ast.FunctionDef) -> bool:
    return any(ast.unparse(d) in ("overload", "typing.overload") for d in fn.decorator_list)


def _stub_functions(body: list[ast.stmt], aliases: dict[str, str]) -> dict[str, list[Signature]]:
    """Each function's signatures (several when it is overloaded)."""
    out: dict[str, list[Signature]] = {}
    for node in body:
        # properties are attributes, not methods (mypy.stubtest checks them)
        if isinstance(node, ast.FunctionDef) and not any(
            ast.unparse(d) == "property" for d in node.decorator_list
        ):
            out.setdefault(node.name, []).append(_stub_signature(node, aliases))
            if len(out[node.name]) > 1:
                assert _is_overload(node), f"{node.name} is defined twice without @overload"
    return out


def _stub_classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    aliases = _aliases(tree)
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef) and n.name not in aliases}


# --- compatibility of types ------------------------------------------------------------------

# pybind11's spelling of a C++ parameter type -> the stub types that describe it
_SCALARS = {
    "bool": {"bool"},
    "str": {"str"},
    "typing.SupportsInt | typing.SupportsIndex": {"int"},
    "typing.SupportsFloat | typing.SupportsIndex": {"float"},
    "int": {"int"},
    "float": {"float"},
}


def _is_array(stub_type: str) -> bool:
    return bool(re.match(r"(npt\.NDArray|np\.ndarray|numpy\.ndarray|NDArray)\b", stub_type))


def _param_type_ok(runtime: str, stub: str) -> bool:
    literal = re.fullmatch(r"Literal\[(.+)\]", stub)
    if literal is not None:  # an overload may narrow a scalar to some of its values
        values = [ast.literal_eval(v) for v in _split_top_level(literal[1])]
        return runtime in _SCALARS and {type(v).__name__ for v in values} <= _SCALARS[runtime]
    if runtime in _SCALARS:
        return stub in _SCALARS[runtime]
    if runtime == "numpy.ndarray" or runtime.startswith("numpy.typing.NDArray"):
        return _is_array(stub)  # not None: pybind11 refuses None for a py::array
    if runtime == "object":
        return stub != ""  # anything: the binding converts and checks it
    if runtime.startswith("fastsgd._core."):  # a bound class: its name in the stub
        return stub == runtime.removeprefix("fastsgd._core.")
    if runtime.startswith("collections.abc.Sequence["):  # a list or tuple of numbers
        return stub.startswith("Sequence[")
    if runtime == "dict":
        return stub.split("[", 1)[0] == "dict"
    return False  # a pybind11 type this test does not know yet: teach it


def _return_type_ok(runtime: str, stub: str) -> bool:
    if runtime.startswith("fastsgd._core."):  # a bound class: its name in the stub
        return stub == runtime.removeprefix("fastsgd._core.")
    base = runtime.split("[", 1)[0]
    if base in ("numpy.ndarray", "numpy.typing.NDArray"):
        return _is_array(stub)
    if base in ("tuple", "dict", "list"):
        return stub.split("[", 1)[0] == base
    return stub == base  # int, float, str, bool, None


def _compare(name: str, runtime: Signature, stubs: list[Signature]) -> list[str]:
    """Differences between one binding and its stub signature(s)."""
    problems: list[str] = []
    rt_names = [p.name for p in runtime.params]
    for i, stub in enumerate(stubs):
        where = f"{name}" + (f" (overload {i + 1})" if len(stubs) > 1 else "")
        st_names = [p.name for p in stub.params]
        if st_names != rt_names:
            problems.append(f"{where}: parameters {st_names} in the stub, {rt_names} in the module")
            continue
        for rp, sp in zip(runtime.params, stub.params, strict=True):
            if not _param_type_ok(rp.annotation, sp.annotation):
                problems.append(
                    f"{where}: parameter {rp.name} is {sp.annotation!r} in the stub, "
                    f"{rp.annotation!r} in the module"
                )
            if len(stubs) == 1 and rp.kw_only != sp.kw_only:
                problems.append(f"{where}: parameter {rp.name} keyword-only in one side only")
            # An overload may narrow a parameter (Literal[False], no default); the last
            # (most general) signature must carry the module's defaults.
            if (len(stubs) == 1 or i == len(stubs) - 1) and not _same_default(rp, sp):
                problems.append(
                    f"{where}: default of {rp.name} is {_show(sp.default)} in the stub, "
                    f"{_show(rp.default)} in the module"
                )
        if not _return_type_ok(runtime.returns, stub.returns):
            problems.append(
                f"{where}: returns {stub.returns!r} in the stub, {runtime.returns!r} in the module"
            )
    return problems


def _same_default(rp: Param, sp: Param) -> bool:
    if rp.default is _NO_DEFAULT or sp.default is _NO_DEFAULT:
        return rp.default is sp.default
    return type(rp.default) is type(sp.default) and rp.default == sp.default


def _show(value: Any) -> str:
    return "no default" if value is _NO_DEFAULT else repr(value)


# --- the tests ---------------------------------------------------------------------------------


def test_stub_is_installed_next_to_the_module() -> None:
    assert STUB.is_file(), f"{STUB} is missing: the package ships its types"
    assert Path(fastsgd.__file__).with_name("py.typed").is_file()


def test_same_functions_and_classes() -> None:
    tree = _stub_tree()
    aliases = _aliases(tree)
    stub_funcs = set(_stub_functions(tree.body, aliases))
    stub_classes = set(_stub_classes(tree))
    runtime_funcs = set(_runtime_functions())
    runtime_classes = set(_runtime_classes())
    assert stub_funcs - runtime_funcs == set(), "in the stub but not in fastsgd._core"
    assert runtime_funcs - stub_funcs == set(), "in fastsgd._core but not in the stub"
    assert stub_classes == runtime_classes
    stub_vars = {
        n.target.id
        for n in tree.body
        if isinstance(n, ast.AnnAssign)
        and isinstance(n.target, ast.Name)
        and not n.target.id.startswith("_")
    }
    runtime_vars = {
        n
        for n, o in vars(_core).items()
        if not n.startswith("_") and not callable(o) and not inspect.ismodule(o)
    }
    assert stub_vars == runtime_vars
    assert isinstance(_core.__version__, str)


@pytest.mark.parametrize("name", sorted(_runtime_functions()))
def test_function_signature_matches_stub(name: str) -> None:
    tree = _stub_tree()
    stubs = _stub_functions(tree.body, _aliases(tree))
    assert name in stubs, f"fastsgd._core.{name} is missing from {STUB.name}"
    runtime = _runtime_signature(getattr(_core, name), name)
    assert _compare(name, runtime, stubs[name]) == []


@pytest.mark.parametrize("cls_name", sorted(_runtime_classes()))
def test_class_methods_match_stub(cls_name: str) -> None:
    tree = _stub_tree()
    aliases = _aliases(tree)
    stub_cls = _stub_classes(tree)[cls_name]
    stub_methods = _stub_functions(stub_cls.body, aliases)
    runtime_methods = _runtime_methods(getattr(_core, cls_name))
    assert set(stub_methods) == set(runtime_methods)
    problems = []
    for name, method in runtime_methods.items():
        runtime = _runtime_signature(method, name)
        if runtime.params and runtime.params[0].name == "self":
            # pybind11 names the instance "self: fastsgd._core.Cls"; the stub just "self".
            runtime = Signature(runtime.params[1:], runtime.returns)
            stubs = [Signature(s.params[1:], s.returns) for s in stub_methods[name]]
        else:  # a static method
            stubs = stub_methods[name]
        problems += _compare(f"{cls_name}.{name}", runtime, stubs)
    assert problems == []


def test_drift_is_detected() -> None:
    """The comparison itself: a renamed parameter, a changed default or type, a new return."""
    runtime = _runtime_signature(_core.predict, "predict")
    tree = _stub_tree()
    (stub,) = _stub_functions(tree.body, _aliases(tree))["predict"]
    assert _compare("predict", runtime, [stub]) == []
    first, *rest, last = stub.params
    drifted = {
        "parameters": (replace(first, name="A"), *rest, last),
        "default of threads": (first, *rest, replace(last, default=1)),
        "parameter threads": (first, *rest, replace(last, annotation="float")),
        "keyword-only": (first, *rest, replace(last, kw_only=True)),
    }
    for message, params in drifted.items():
        problems = _compare("predict", runtime, [Signature(params, stub.returns)])
        assert len(problems) == 1
        assert message in problems[0]
    (problem,) = _compare("predict", runtime, [Signature(stub.params, "float")])
    assert "returns" in problem


def test_stub_names_are_defined() -> None:
    """Every name the stub uses is imported or defined in it (a typo would type as Any)."""
    tree = _stub_tree()
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            defined.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    assert used - defined == set()


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_stubtest(tmp_path: Path) -> None:
    """mypy's own check of the stub against the imported module."""
    allowlist = tmp_path / "allowlist.txt"
    # pybind11 classes have pybind11's metaclass, which a stub cannot name; a class without
    # a constructor has object's __init__(*args, **kwargs) at run time.
    names = [f"fastsgd._core.{c}" for c in sorted(_runtime_classes())]
    names.append("fastsgd._core.EpochStats.__init__")
    allowlist.write_text("\n".join(names) + "\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "fastsgd._core",
            "--allowlist",
            str(allowlist),
            "--ignore-unused-allowlist",  # mypy versions differ in what they report
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
