"""The sans-I/O boundary, enforced: the core packages import no I/O, clocks, threads or nets."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "openapiopenai"
CORE = ["models", "audio", "turns", "protocol"]
FORBIDDEN = {
    "asyncio",
    "threading",
    "multiprocessing",
    "concurrent",
    "time",
    "socket",
    "selectors",
    "ssl",
    "starlette",
    "uvicorn",
    "websockets",
    "httpx",
    "onnxruntime",
    "prometheus_client",
    "subprocess",
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", CORE)
def test_core_package_imports_no_io(package: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_roots(path) & FORBIDDEN)
        for path in sorted((PACKAGE / package).rglob("*.py"))
        if imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}


def test_only_vad_runs_the_neural_net() -> None:
    users = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "onnxruntime" in imported_roots(path)
    }
    assert users and all(user.startswith("vad/") for user in users)


def test_only_the_shell_runs_a_denoiser() -> None:
    """The core gets its denoise stage handed in (``Session(denoiser=...)``), never imports one."""
    users = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("openapiopenai.denoise")
            ):
                users.add(str(path.relative_to(PACKAGE)).split("/")[0])
    assert users and not users & set(CORE)


def loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after ``statement``."""
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize(
    ("statement", "must_not_load"),
    [
        # the turn detector alone: no wire models, no protocol, no speech models, no server
        (
            "import openapiopenai.turns",
            {"openapiopenai.models", "openapiopenai.protocol", "openapiopenai.vad"},
        ),
        ("import openapiopenai", {"openapiopenai.offline", "openapiopenai.protocol", "numpy"}),
        ("from openapiopenai import Detector", {"openapiopenai.server"}),
    ],
)
def test_importing_one_part_does_not_load_the_others(statement: str, must_not_load: set[str]) -> None:
    loaded = loaded_after(statement)
    web = {"openapiopenai.server", "starlette", "uvicorn", "onnxruntime", "prometheus_client"}
    assert not (must_not_load | web) & loaded, sorted((must_not_load | web) & loaded)


def test_the_public_names_still_import_from_the_package() -> None:
    loaded = loaded_after("from openapiopenai import Detector, PCMU, TurnDetectionConfig, load_model")
    assert {"openapiopenai.offline", "openapiopenai.audio.formats", "openapiopenai.vad.registry"} <= loaded


def literal_keywords(path: Path, keyword: str) -> list[tuple[int, object]]:
    """``keyword=<literal>`` in the calls of ``path``: (line, value)."""
    return [
        (node.lineno, kw.value.value)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == keyword and isinstance(kw.value, ast.Constant)
    ]


def test_the_default_backend_name_is_written_once() -> None:
    """``vad.registry.AUTO`` is the default backend's one home: no parameter or option spells it."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                defaults = [*node.args.defaults, *node.args.kw_defaults]
                named = dict(zip([a.arg for a in args][::-1], defaults[::-1], strict=False))
                found += [
                    (path.name, node.lineno, name)
                    for name, default in named.items()
                    if name in ("backend", "model")
                    and isinstance(default, ast.Constant)
                    and default.value == "auto"
                ]
        found += [
            (path.name, line, "default")
            for line, value in literal_keywords(path, "default")
            if value == "auto"
        ]
    assert found == []


def test_error_codes_and_http_statuses_come_from_their_tables() -> None:
    """In-band error codes from ``protocol/errors.py``, HTTP statuses from ``server/codes.py``."""
    session = PACKAGE / "protocol" / "session.py"
    assert literal_keywords(session, "code") == []
    for path in (PACKAGE / "server").glob("*.py"):
        assert literal_keywords(path, "status_code") == [], path.name


def test_every_public_member_of_the_session_documents_its_contract() -> None:
    """As python-websockets documents its protocol objects: each call says when to make it, what
    it may emit and that client input never makes it raise."""
    from openapiopenai.protocol.session import Session

    undocumented = [
        name
        for name, member in vars(Session).items()
        if not name.startswith("_")
        and callable(getattr(member, "fget", member))
        and not (member.__doc__ or "").strip()
    ]
    assert undocumented == []
