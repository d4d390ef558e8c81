"""The layout's size limits: the program reads like the diagram, no file or function grows past reading.

`__main__.py` wires components (each Args.for_stack maps the settings onto one), so it
stays short; every Python file of the project stays under 400 lines and every function
under 60, so no module or function becomes the place everything is added to.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("components", "ops", "policies", "rehearsal", "benchmarks", "bootstrap", "services", "tests")
MAX_FILE_LINES, MAX_FUNCTION_LINES, MAX_MAIN_LINES = 400, 60, 90


def project_files() -> list[Path]:
    files = [ROOT / "__main__.py"]
    for package in PACKAGES:
        files += sorted(p for p in (ROOT / package).rglob("*.py") if ".venv" not in p.parts)
    return files


def test_the_program_reads_like_the_diagram() -> None:
    text = (ROOT / "__main__.py").read_text()
    assert len(text.splitlines()) < MAX_MAIN_LINES, "wire components with their Args.for_stack, not field by field"
    assert "fmt: skip" not in text


def test_no_file_over_the_limit() -> None:
    long = {
        str(p.relative_to(ROOT)): n for p in project_files() if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert long == {}, f"split these files (over {MAX_FILE_LINES} lines): {long}"


def test_no_function_over_the_limit() -> None:
    long: dict[str, int] = {}
    for path in project_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert long == {}, f"split these functions (over {MAX_FUNCTION_LINES} lines): {long}"


def test_the_limits_see_the_project() -> None:
    files = project_files()
    assert len(files) > 100 and ROOT / "components" / "config.py" in files
