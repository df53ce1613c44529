"""DESIGN.md's dependency rules, checked on the source's imports.

Imports flow one way, so each part can be read and changed alone::

    entry points (tfgen/train.py, tfgen/evaluate.py, tfgen/latent.py,
                  tfgen/leaderboard.py, export/__main__.py)
        -> zoo/  -> export/  -> tfgen core
    zoo/<family>/  -> tfgen core; never export/ nor another family
    export/        -> tfgen core; never zoo/
    tfgen core     -> nothing in zoo/, export/ or the entry points

A family imports another only where the lecture builds one on the other
(``ALLOWED_CROSSINGS``), and the importing module's docstring says so.

Every ``import`` statement counts, including those inside functions (an
entry point imports ``zoo`` lazily, but a core module must not at all). The
files are parsed with ``ast``, not imported, so a rule is checked even where
importing would fail.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("tfgen", "zoo", "export")
# ``python -m export`` rebuilds a trained run's model as tfgen.evaluate
# does (which fills the registry from zoo/): a command, not the export layer.
ENTRY_POINTS = ("tfgen.train", "tfgen.evaluate", "tfgen.latent",
                "tfgen.leaderboard", "export.__main__")

# (importing module, imported family) -> why DESIGN.md allows it.
ALLOWED_CROSSINGS = {
    ("zoo.autoencoders.deep_ae", "boltzmann"):
        "a deep autoencoder may be initialised from RBMs (DESIGN.md)",
}

def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_modules():
    """``{module name: path}`` of every Python file of the three packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[_module_name(path)] = path
    return modules


MODULES = _source_modules()


def _imports(module):
    """The project modules that ``module``'s source imports, anywhere in it.

    ``from a.b import c`` imports ``a.b.c`` when that is a module of the
    project, else ``a.b``; relative imports are resolved against the
    module's package.
    """
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}"
                     if f"{base}.{alias.name}" in MODULES else base
                     for alias in node.names]
        else:
            continue
        imported.update(name for name in names
                        if name.partition(".")[0] in PACKAGES)
    return imported


def _part(module):
    """"entry", "core", "export", "zoo" (the package root) or "zoo.<family>"."""
    if module in ENTRY_POINTS or module.startswith(
            tuple(f"{entry}." for entry in ENTRY_POINTS)):
        return "entry"
    top, _, rest = module.partition(".")
    if top == "zoo":
        return f"zoo.{rest.partition('.')[0]}" if rest else "zoo"
    return "core" if top == "tfgen" else top


def _violations(importer_part, allowed):
    """``[(module, imported)]`` of a part's imports outside ``allowed``."""
    found = []
    for module in sorted(MODULES):
        if _part(module) != importer_part:
            continue
        for imported in sorted(_imports(module)):
            if not allowed(module, imported):
                found.append((module, imported))
    return found


def test_the_parser_sees_the_imports_it_checks():
    # Without these the rules below would pass on nothing.
    assert {"tfgen.model", "tfgen.train", "export.signatures",
            "zoo.autoencoders.vae"} <= set(MODULES)
    assert "zoo.autoencoders.vae" in _imports("zoo.autoencoders.cvae")
    assert "tfgen.registry" in _imports("zoo.autoencoders.vae")
    assert "zoo.autoencoders" in _imports("zoo")
    assert "export.signatures" in _imports("export.publish")
    # Imports inside functions count: the entry point imports zoo lazily.
    assert {"zoo", "export"} <= _imports("tfgen.train")


def test_core_imports_nothing_of_zoo_export_or_the_entry_points():
    def allowed(module, imported):
        del module
        return _part(imported) == "core"

    violations = _violations("core", allowed)
    assert not violations, (
        f"the core must not import zoo/, export/ or an entry point "
        f"(DESIGN.md, dependency rules): {violations}")


def test_export_imports_only_the_core_and_itself():
    def allowed(module, imported):
        del module
        return _part(imported) in ("core", "export")

    violations = _violations("export", allowed)
    assert not violations, (
        f"export/ imports only the tfgen core, never zoo/ (DESIGN.md): "
        f"{violations}")


def test_each_family_imports_only_the_core_and_itself():
    families = sorted({_part(module) for module in MODULES
                       if _part(module).startswith("zoo.")})
    assert "zoo.autoencoders" in families and "zoo.boltzmann" in families
    for family in families:
        def allowed(module, imported, family=family):
            part = _part(imported)
            return (part in ("core", family)
                    or (module, part.partition(".")[2]) in ALLOWED_CROSSINGS)

        violations = _violations(family, allowed)
        assert not violations, (
            f"{family} imports only the tfgen core and itself, except "
            f"{sorted(ALLOWED_CROSSINGS)} (DESIGN.md): {violations}")


def test_the_zoo_root_imports_only_families_and_the_core():
    def allowed(module, imported):
        del module
        return _part(imported) == "core" or _part(imported).startswith("zoo.")

    violations = _violations("zoo", allowed)
    assert not violations, f"the zoo package imports its families: {violations}"


def test_a_module_crossing_families_says_so_in_its_docstring():
    for module in sorted(MODULES):
        part = _part(module)
        if not part.startswith("zoo."):
            continue
        for imported in sorted(_imports(module)):
            imported_part = _part(imported)
            if not imported_part.startswith("zoo.") or imported_part == part:
                continue
            path = MODULES[module]
            docstring = ast.get_docstring(ast.parse(
                path.read_text(encoding="utf-8"))) or ""
            # Docstrings wrap lines anywhere, even inside a dotted name.
            text = "".join(docstring.split())
            assert imported_part in text, (
                f"{module} imports {imported} from another family; its "
                f"docstring must name {imported_part} and say why")
