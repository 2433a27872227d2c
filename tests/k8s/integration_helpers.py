"""The end-to-end helpers of tests/integration/conftest.py (Atrium and echo-backend processes,
manifest builders), loaded under their own module name so they do not clash with this folder's
conftest. Import as `from integration_helpers import h`."""

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load():
    path = REPO / "tests" / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("atrium_integration_helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


h = sys.modules.get("atrium_integration_helpers") or _load()
