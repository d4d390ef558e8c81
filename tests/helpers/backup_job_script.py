"""services/postgres/backup_job.py loaded as a module, as the postgres image runs it (it is no package)."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "services" / "postgres" / "backup_job.py"


@functools.cache
def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("backup_job", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["backup_job"] = module
    spec.loader.exec_module(module)
    return module
