"""Every module of the app imports on its own (no hidden import cycles), the way
`python -c "import app.services.progress"` would: the app's modules are forgotten between
imports, third-party packages stay loaded to keep this fast."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in (ROOT / "app").rglob("*.py")
)
BLUEPRINTS = ("entries", "workspace", "review", "data", "dashboard", "documents", "admin", "auth")

CHECK = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "app" or m.startswith("app.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc(limit=3))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


# In a few interpreters of their own, so that parallel test workers share the work out.
CHUNKS = 4


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_every_module_imports_alone(chunk):
    assert "app.entry_tables.forms" in MODULES and "app.workspace.routes" in MODULES
    result = subprocess.run(
        [sys.executable, "-c", CHECK, *MODULES[chunk::CHUNKS]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_entry_table_core_imports_no_blueprint():
    code = (
        "import sys, app.entry_tables.forms, app.entry_tables.registry;"
        f"bad = [m for m in sys.modules if m.split('.')[:2][-1] in {BLUEPRINTS!r}];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
