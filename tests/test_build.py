"""BUILD declares every Python file: a py_library per package, a py_test per test.

Bazel users build from BUILD alone, so a module or test missing from it is a
broken build there even when pytest passes here.
"""

import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("tfgen", "zoo", "export")
RUNNER = "tests/pytest_main.py"


def _build_rules():
    """Parses BUILD (Starlark, a Python subset) into (kind, kwargs) pairs."""
    tree = ast.parse((REPO / "BUILD").read_text(), filename="BUILD")
    rules = []
    for statement in tree.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            call = statement.value
            if isinstance(call.func, ast.Name) and call.func.id != "load":
                kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
                rules.append((call.func.id, kwargs))
    return rules


def _python_files(folder):
    return {p.relative_to(REPO).as_posix()
            for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts}


def test_each_package_is_one_py_library_listing_all_its_files():
    libraries = {kw["name"]: kw for kind, kw in _build_rules() if kind == "py_library"}
    for package in PACKAGES:
        assert package in libraries, f"BUILD lacks py_library {package!r}"
        declared = set(libraries[package]["srcs"])
        on_disk = _python_files(package)
        assert declared == on_disk, (
            f"py_library {package}: missing {sorted(on_disk - declared)}, "
            f"stale {sorted(declared - on_disk)}")


def test_each_test_file_is_one_py_test_run_by_pytest():
    tests = [kw for kind, kw in _build_rules() if kind == "py_test"]
    on_disk = {p for p in _python_files("tests")
               if pathlib.PurePosixPath(p).name.startswith("test_")}
    declared = []
    for kw in tests:
        test_files = [s for s in kw["srcs"]
                      if pathlib.PurePosixPath(s).name.startswith("test_")]
        assert len(test_files) == 1, f"{kw['name']}: one test file per py_test"
        # A test module has no __main__: the runner hands it to pytest.
        assert kw["main"] == RUNNER and RUNNER in kw["srcs"], kw["name"]
        assert kw["args"] == [f"$(location {test_files[0]})"], kw["name"]
        declared.append(test_files[0])
    assert len(declared) == len(set(declared)), "a test file is listed twice"
    assert set(declared) == on_disk, (
        f"py_test missing for {sorted(on_disk - set(declared))}, "
        f"stale {sorted(set(declared) - on_disk)}")


def test_test_helpers_are_declared():
    helpers = {p for p in _python_files("tests")
               if not pathlib.PurePosixPath(p).name.startswith("test_")}
    declared = {src for kind, kw in _build_rules() if kind == "py_library"
                for src in kw["srcs"]}
    assert helpers <= declared, f"undeclared helpers {sorted(helpers - declared)}"


def test_test_file_names_are_unique():
    """pytest imports test modules by file name (the test folders are not
    packages), so two test files of one name break the second's import."""
    names = [pathlib.PurePosixPath(path).name
             for path in _python_files("tests")
             if pathlib.PurePosixPath(path).name.startswith("test_")]
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, f"test files share names: {repeated}"
