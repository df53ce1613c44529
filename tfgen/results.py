"""Results files: the measured numbers behind the README's tables.

Every table of numbers in the README comes from a command (a benchmark, a
comparison of models) whose output is committed under ``results/`` as one
JSON document:

    {"provenance": {"command": ..., "commit": ..., "dirty": ...,
                    "cpu_count": ..., "date": ..., ...},
     "tables": {NAME: {"columns": [...], "rows": [[...], ...],
                       "formats": {COLUMN: SPEC}, "notes": "...",
                       "align": {COLUMN: "left" | "right" | "center"}}},
     "raw": <anything: the command's own document, every number it kept>}

``write`` writes one atomically, ``read`` checks one and names the file and
what is wrong with it. A cell is a number, a string (shown as given), a
boolean (``yes``/``no``), ``None`` (shown as "—"), a list of those for a
template, or ``{"value": ..., "format": ...}`` (``cell``) with a format of
its own. A column's format is a Python format spec applied to its numbers
(``".2f"``, ``".1%"``, ``",d"``, ``"+.3f"``) or, where it holds ``{``, a
``str.format`` template given the cell (``"{:.0f} s"``) or a list cell's
items (``"{:.1f} ± {:.1f}"``); a list under a plain spec shows each item by
it, joined by ", " (per-seed values).

A benchmark prints its own JSON document, which carries the provenance of
the run that measured: ``write_measured`` writes its tables with that
provenance and the document as the raw, and ``read_output`` finds the
document again in a saved output (the benchmarks' ``--from_output``).

The README shows a table between two markers, each a line of its own:

    <!-- results: results/FILE.json#TABLE -->
    | ... the table, as render_table writes it ... |
    <!-- /results -->

The path is relative to the repository root (the README's folder). ``update``
rewrites what lies between the markers and nothing else; ``check`` lists
every line that differs from the rendering of its file, so a number edited
by hand, or a results file regenerated without re-rendering the README,
fails ``tests/test_readme_results.py``. Markers inside fenced code blocks
are examples, not blocks. From the repository root:

    python -m tfgen.results --check       # exit status 1 listing mismatches
    python -m tfgen.results --write       # re-render every block
    python -m tfgen.results --show results/FILE.json
"""

import argparse
import contextlib
import dataclasses
import datetime
import itertools
import json
import math
import os
import pathlib
import platform
import re
import shlex
import stat
import subprocess
import sys
import tempfile

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]

# What every results file records of the command that measured it.
PROVENANCE_FIELDS = ("command", "commit", "dirty", "cpu_count", "date")
# What a benchmark's own document must carry of it (``provenance_of``).
_MEASURED_FIELDS = ("command", "commit", "cpu_count", "date")

_TABLE_FIELDS = {"columns", "rows", "formats", "notes", "align"}
_DOCUMENT_FIELDS = {"provenance", "tables", "raw"}
_ALIGNMENTS = {"left": ":---", "right": "---:", "center": ":---:"}
# Table names follow '#' in a marker: no spaces, '#' or '-->'.
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_START = re.compile(
    r"^<!--\s*results:\s*(?P<file>[^#\s]+)#(?P<table>\S+)\s*-->$")
_END = re.compile(r"^<!--\s*/results\s*-->$")
# Anything that looks like a marker but is not one is an error, not text.
_MARKER_LIKE = re.compile(r"^<!--\s*/?results\b")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_VERSIONED_MODULES = ("numpy", "tensorflow", "keras",
                      "tensorflow_probability", "sklearn")


class ResultsError(ValueError):
    """A results file or README block that cannot be used, and why."""


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """A README line that differs from the rendering of its results file.

    Attributes:
        readme: the README's path.
        line: the 1-based line number in the README (of the line that
            differs, or where a missing line belongs).
        file: the results file, as the block's marker names it.
        table: the table's name.
        readme_line: the README's line (None: the block is short of lines).
        rendered_line: the rendered line (None: the block has a line too
            many).
    """
    readme: str
    line: int
    file: str
    table: str
    readme_line: str | None
    rendered_line: str | None

    def __str__(self):
        return (f"{self.readme}:{self.line}: {self.file}#{self.table} "
                f"differs\n  README:   {self.readme_line}\n"
                f"  rendered: {self.rendered_line}")


# --- Provenance. -----------------------------------------------------------

def _git(*arguments, repository=REPOSITORY):
    try:
        return subprocess.run(["git", *arguments], cwd=repository,
                              capture_output=True, text=True, check=True,
                              timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def command_line(argv=None):
    """The command that is running, as one runs it from the repository root.

    A program inside the repository's packages is written ``python -m
    package.module``, another file inside it by its relative path; the
    arguments are quoted for a shell.

    Args:
        argv: the program and its arguments (default: ``sys.argv``).

    Returns:
        The command line, a string.
    """
    program, *arguments = list(sys.argv if argv is None else argv) or [""]
    path = pathlib.Path(program)
    try:
        relative = path.resolve().relative_to(REPOSITORY)
    except (OSError, ValueError):
        relative = None
    if relative is not None and path.suffix == ".py" and path.is_file():
        folders = [REPOSITORY.joinpath(*relative.parts[:depth])
                   for depth in range(1, len(relative.parts))]
        if all((folder / "__init__.py").is_file() for folder in folders):
            module = ".".join(relative.with_suffix("").parts)
            return shlex.join(["python", "-m", module, *arguments])
        return shlex.join(["python", relative.as_posix(), *arguments])
    return shlex.join([program, *arguments])


def provenance(command=None, *, repository=REPOSITORY):
    """Where and how a measurement is being made, for its results file.

    Args:
        command: the command line, a string or a list of arguments (default:
            ``command_line()`` of this process).
        repository: the git checkout whose commit is recorded (default: the
            one holding this package).

    Returns:
        A dict: ``command``; ``commit``, the repository's ``HEAD`` (None
        outside a git checkout); ``dirty``, whether tracked files differ
        from it (untracked files are not counted); ``cpu_count``; ``date``,
        UTC in ISO 8601; ``platform``; ``versions`` of Python and of the
        numerical libraries already imported (importing one costs seconds).

    Raises:
        ValueError: ``command`` is neither a string nor a list of strings.
    """
    if command is None:
        command = command_line()
    elif isinstance(command, (list, tuple)) and all(
            isinstance(part, str) for part in command):
        command = shlex.join(command)
    elif not isinstance(command, str):
        raise ValueError(f"command: expected a string or a list of strings, "
                         f"got {command!r}")
    status = _git("status", "--porcelain", "--untracked-files=no",
                  repository=repository)
    versions = {"python": platform.python_version()}
    for name in _VERSIONED_MODULES:
        version = getattr(sys.modules.get(name), "__version__", None)
        if isinstance(version, str):
            versions[name] = version
    return {
        "command": command,
        "commit": _git("rev-parse", "HEAD", repository=repository),
        "dirty": None if status is None else bool(status),
        "cpu_count": os.cpu_count(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "platform": platform.platform(),
        "versions": versions,
    }


def provenance_of(document):
    """The provenance a benchmark's own JSON document carries.

    A benchmark prints a document with ``command``, ``commit``,
    ``cpu_count`` and ``date`` (and ``dirty``, or ``tracked_files_modified``
    in older ones; ``platform`` and ``versions`` in some): recorded when it
    measured, which is what its results file must say, not when the file is
    written.

    Args:
        document: the benchmark's document, a dict.

    Returns:
        A provenance dict for ``write(..., origin=...)``, with ``platform``
        and ``versions`` when the document has them.

    Raises:
        ValueError: ``document`` lacks one of those fields.
    """
    if not isinstance(document, dict):
        raise ValueError(f"document: expected a dict, got {type(document)}")
    missing = _missing(document, _MEASURED_FIELDS)
    if missing:
        raise ValueError(f"document: no {', '.join(missing)}; write it with "
                         "this process's provenance instead")
    origin = {"command": document["command"], "commit": document["commit"],
              "dirty": document.get("dirty",
                                    document.get("tracked_files_modified")),
              "cpu_count": document["cpu_count"], "date": document["date"]}
    origin.update({name: document[name] for name in ("platform", "versions")
                   if name in document})
    return origin


def _missing(document, fields):
    return [name for name in fields if name not in document]


# --- Tables and their rendering. -------------------------------------------

def table(columns, rows, *, formats=None, notes="", align=None):
    """A table of a results document, checked.

    Args:
        columns: the column titles, as the README shows them.
        rows: one list of cells per row, as many as there are columns.
        formats: ``{column: format spec or template}`` (see the module).
        notes: what the reader of the file should know (units, caveats).
        align: ``{column: "left" | "right" | "center"}``.

    Returns:
        The table as a dict, ready for ``write``.

    Raises:
        ValueError: a bad argument, named.
    """
    result = {"columns": list(columns), "rows": [list(row) for row in rows],
              "formats": dict(formats or {}), "notes": notes}
    if align:
        result["align"] = dict(align)
    _check_table(result, "table")
    return result


def records_table(records, columns, **kwargs):
    """A table whose rows are picked from a benchmark's records (dicts).

    Args:
        records: a list of dicts, one per row (a benchmark's ``rows``).
        columns: ``{column title: key of a record, or a function of it}``.
        **kwargs: ``table``'s ``formats``, ``notes``, ``align``.

    Returns:
        The table, as ``table`` makes it.

    Raises:
        ValueError: a record lacks a key.
    """
    rows = []
    for index, record in enumerate(records):
        row = []
        for title, pick in columns.items():
            if callable(pick):
                row.append(pick(record))
            elif pick in record:
                row.append(record[pick])
            else:
                raise ValueError(f"records[{index}] has no {pick!r} (column "
                                 f"{title!r}); it has {sorted(record)}")
        rows.append(row)
    return table(list(columns), rows, **kwargs)


def cell(value, format_spec):
    """A cell with a format of its own, overriding its column's.

    For the cells a column's one format does not fit: a best value in bold
    (``cell(12.78, "**{:.2f}**")``), a row measured at another scale
    (``cell(0.0127, ".4f")`` beside ``".3f"`` rows), a remark
    (``cell(132.0, "{:.0f} (reused)")``).
    """
    return {"value": value, "format": format_spec}


def format_cell(value, spec=None):
    """One cell as the README shows it.

    Args:
        value: a number, string, boolean, None, a list of those, or a
            ``cell`` (whose own format wins over ``spec``).
        spec: a format spec for numbers, or a template holding ``{``.

    Returns:
        The text: strings as given, None as "—", booleans as yes/no,
        numbers by ``spec`` (``str`` without one), a list's items by the
        template, or each by the spec, joined by ", "; a ``|`` escaped so
        that it stays inside its cell.

    Raises:
        ValueError: the spec does not fit the value.
    """
    if isinstance(value, dict):
        value, spec = value["value"], value["format"]
    try:
        if value is None:
            text = "—"
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, str):
            text = value
        elif isinstance(value, list) and spec is not None and "{" in spec:
            text = spec.format(*value)
        elif isinstance(value, list):  # per seed, say: "8, 8, 7"
            text = ", ".join(format_cell(item, spec) for item in value)
        elif spec is None:
            text = str(value)
        elif "{" in spec:
            text = spec.format(value)
        else:
            text = format(value, spec)
    except (ValueError, TypeError, IndexError, KeyError) as error:
        raise ValueError(f"cannot format {value!r} with {spec!r}: {error}"
                         ) from None
    return text.replace("|", r"\|")


def _table_line(cells):
    # "| a | | b |": an empty cell keeps one space, as written by hand.
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def render_lines(table_value):
    """The table as markdown lines: header, separator, one line per row."""
    columns = table_value["columns"]
    formats = table_value.get("formats", {})
    align = table_value.get("align", {})
    lines = [_table_line(format_cell(column) for column in columns),
             "|" + "|".join(_ALIGNMENTS.get(align.get(column), "---")
                            for column in columns) + "|"]
    for number, row in enumerate(table_value["rows"]):
        cells = []
        for column, value in zip(columns, row):
            try:
                cells.append(format_cell(value, formats.get(column)))
            except ValueError as error:
                raise ResultsError(f"row {number}, column {column!r}: "
                                   f"{error}") from None
        lines.append(_table_line(cells))
    return lines


def render_table(table_value):
    """The table as markdown (no trailing newline).

    Raises:
        ResultsError: a cell that its column's format does not fit.
    """
    return "\n".join(render_lines(table_value))


# --- Checking documents. ---------------------------------------------------

def _check_cell(value, where, inner=False):
    if isinstance(value, dict) and not inner:
        if set(value) != {"value", "format"} or not isinstance(
                value["format"], str):
            raise ResultsError(f"{where}: a cell object must be "
                               f"{{\"value\": ..., \"format\": \"...\"}}, "
                               f"got {value!r}")
        _check_cell(value["value"], where, inner=True)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, list):
                raise ResultsError(f"{where}: nested lists are not cells")
            _check_cell(item, where, inner=True)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ResultsError(f"{where}: {value} is not a finite number; "
                           "write None for a missing one")
    elif isinstance(value, str) and ("\n" in value or "\r" in value):
        raise ResultsError(f"{where}: a cell must be one line")
    elif not isinstance(value, (str, int, float, type(None))):
        raise ResultsError(f"{where}: {type(value).__name__} is not a cell "
                           "(number, string, boolean, None, a list or a "
                           "cell object)")


def _check_table(value, where):
    if not isinstance(value, dict):
        raise ResultsError(f"{where}: expected an object, got "
                           f"{type(value).__name__}")
    unknown = set(value) - _TABLE_FIELDS
    missing = {"columns", "rows"} - set(value)
    if unknown or missing:
        raise ResultsError(
            f"{where}: " + "; ".join(
                [f"missing {', '.join(sorted(missing))}"] * bool(missing)
                + [f"unknown fields {', '.join(sorted(unknown))}"]
                * bool(unknown)))
    columns = value["columns"]
    if (not isinstance(columns, list) or not columns
            or not all(isinstance(c, str) and c for c in columns)):
        raise ResultsError(f"{where}: columns must be a non-empty list of "
                           f"non-empty strings, got {columns!r}")
    if len(set(columns)) != len(columns):
        raise ResultsError(f"{where}: repeated columns in {columns!r}")
    if not isinstance(value["rows"], list):
        raise ResultsError(f"{where}: rows must be a list of lists")
    for number, row in enumerate(value["rows"]):
        if not isinstance(row, list) or len(row) != len(columns):
            raise ResultsError(f"{where}: row {number} must be a list of "
                               f"{len(columns)} cells, got {row!r}")
        for column, cell in zip(columns, row):
            _check_cell(cell, f"{where}: row {number}, column {column!r}")
    for field in ("formats", "align"):
        mapping = value.get(field, {})
        if not isinstance(mapping, dict) or not all(
                isinstance(spec, str) for spec in mapping.values()):
            raise ResultsError(f"{where}: {field} must map columns to "
                               f"strings, got {mapping!r}")
        strangers = set(mapping) - set(columns)
        if strangers:
            raise ResultsError(f"{where}: {field} names columns "
                               f"{sorted(strangers)} that the table lacks")
    for column, side in value.get("align", {}).items():
        if side not in _ALIGNMENTS:
            raise ResultsError(f"{where}: align of {column!r} is {side!r}, "
                               f"not one of {', '.join(_ALIGNMENTS)}")
    if not isinstance(value.get("notes", ""), str):
        raise ResultsError(f"{where}: notes must be a string")
    try:
        render_lines(value)
    except ResultsError as error:
        raise ResultsError(f"{where}: {error}") from None


def _check_provenance(value, where):
    if not isinstance(value, dict):
        raise ResultsError(f"{where}: provenance must be an object")
    missing = [name for name in PROVENANCE_FIELDS if name not in value]
    if missing:
        raise ResultsError(f"{where}: provenance lacks "
                           f"{', '.join(missing)}")
    expected = {"command": (str,), "commit": (str, type(None)),
                "dirty": (bool, type(None)), "cpu_count": (int, type(None)),
                "date": (str,)}
    for name, types in expected.items():
        if not isinstance(value[name], types) or (
                name == "cpu_count" and isinstance(value[name], bool)):
            raise ResultsError(f"{where}: provenance {name} is "
                               f"{value[name]!r}")
    try:
        datetime.datetime.fromisoformat(value["date"])
    except ValueError:
        raise ResultsError(f"{where}: provenance date {value['date']!r} is "
                           "not ISO 8601") from None


def validate(document, where="document"):
    """Checks a results document; returns it.

    Raises:
        ResultsError: what is wrong, after ``where`` (the file's name).
    """
    if not isinstance(document, dict):
        raise ResultsError(f"{where}: expected a JSON object")
    unknown = set(document) - _DOCUMENT_FIELDS
    missing = {"provenance", "tables"} - set(document)
    if unknown or missing:
        raise ResultsError(f"{where}: top-level fields must be provenance, "
                           f"tables and raw; missing {sorted(missing)}, "
                           f"unknown {sorted(unknown)}")
    _check_provenance(document["provenance"], where)
    tables = document["tables"]
    if not isinstance(tables, dict) or not tables:
        raise ResultsError(f"{where}: tables must be a non-empty object")
    for name, value in tables.items():
        if not _TABLE_NAME.match(name):
            raise ResultsError(f"{where}: table name {name!r} must be "
                               "letters, digits, '_', '.' or '-'")
        _check_table(value, f"{where}: table {name!r}")
    return document


# --- Files. ----------------------------------------------------------------

def _write_atomically(path, write_text, newline=None):
    """Writes through ``write_text(handle)`` to a temporary file, then renames.

    A failure half-way leaves ``path`` as it was and no temporary file.
    """
    path = pathlib.Path(path)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline=newline, dir=path.parent,
        prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write_text(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # NamedTemporaryFile makes the file private; keep the old mode.
        mode = (stat.S_IMODE(path.stat().st_mode) if path.exists()
                else 0o644)
        os.chmod(handle.name, mode)
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


def write(path, tables, raw=None, command=None, origin=None):
    """Writes a results document, atomically.

    Args:
        path: the file (its folder is made).
        tables: ``{name: table}`` (``table``/``records_table`` build them).
        raw: anything JSON holds: the command's own document.
        command: the command line to record (default: this process's).
        origin: a provenance to record instead of this process's: that of a
            measurement made earlier (``provenance_of`` a benchmark's
            document).

    Returns:
        The document written.

    Raises:
        ResultsError: a bad table or provenance, or a value JSON cannot
            hold (the old file, if any, is left as it was).
        ValueError: both ``command`` and ``origin``.
    """
    if command is not None and origin is not None:
        raise ValueError("command and origin: give one (origin holds its "
                         "own command)")
    path = pathlib.Path(path)
    document = {"provenance": origin if origin is not None
                else provenance(command),
                "tables": {name: {"formats": {}, "notes": "", **value}
                           if isinstance(value, dict) else value
                           for name, value in dict(tables).items()},
                "raw": {} if raw is None else raw}
    validate(document, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)

    def dump(handle):
        json.dump(document, handle, indent=2, sort_keys=True,
                  ensure_ascii=False, allow_nan=False)
        handle.write("\n")

    try:
        _write_atomically(path, dump)
    except (TypeError, ValueError) as error:
        raise ResultsError(f"{path}: cannot be written as JSON: {error}"
                           ) from None
    return document


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def read(path):
    """Reads and checks a results document.

    Raises:
        ResultsError: the file is missing, is not JSON, or breaks the
            schema; the message names the file and what is wrong.
    """
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ResultsError(f"{path}: cannot be read: {error}") from None
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise ResultsError(f"{path}: not valid JSON: {error}") from None
    return validate(document, str(path))


def write_measured(path, tables, document):
    """Writes the results of a benchmark's document, atomically.

    The file records the provenance the document carries (``provenance_of``:
    the run that measured, not this process) and the document itself as
    its raw.

    Args:
        path: the file (its folder is made).
        tables: ``{name: table}``, built from ``document``.
        document: the benchmark's JSON document.

    Returns:
        The results document written.

    Raises:
        ValueError: ``document`` lacks its provenance.
        ResultsError: as ``write``.
    """
    return write(path, tables, raw=document, origin=provenance_of(document))


def read_output(path, benchmark, required=()):
    """A benchmark's JSON document, from a file of its saved output.

    The file holds the document alone (indented or not), or the printed
    output of a run, where the document is a line starting with ``{``
    among others: the whole text is tried first, then each such line, and
    the first of ``benchmark``'s documents that has every field of
    ``required`` is taken.

    Args:
        path: the file.
        benchmark: the name the document gives under ``"benchmark"``.
        required: the fields it must have besides its provenance
            (``command``, ``commit``, ``cpu_count``, ``date``).

    Returns:
        The document, a dict.

    Raises:
        ResultsError: the file cannot be read, or holds no such document;
            the message is ``PATH: what is wrong``, ``PATH`` as given, so
            that ``f"--from_output={error}"`` names a flag and its value.
    """
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ResultsError(f"{path}: cannot be read: {error}") from None
    others, incomplete = [], None
    for candidate in [text] + [line for line in text.splitlines()
                               if line.startswith("{")]:
        try:
            document = json.loads(candidate)
        except ValueError:
            continue
        if not isinstance(document, dict):
            continue
        if document.get("benchmark") != benchmark:
            others.append(document.get("benchmark"))
            continue
        missing = _missing(document, (*required, *_MEASURED_FIELDS))
        if not missing:
            return document
        incomplete = incomplete or missing
    if incomplete:
        raise ResultsError(f"{path}: its {benchmark} document lacks "
                           f"{', '.join(incomplete)}")
    if others:
        names = ", ".join(sorted({repr(name) for name in others}))
        raise ResultsError(f"{path}: not a {benchmark} document (benchmark: "
                           f"{names})")
    raise ResultsError(f"{path}: no JSON document (the whole file, or a line "
                       "starting with '{')")


# --- README blocks. --------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Block:
    """A results block of a README: its marker's file and table, and the
    0-based indices of its start and end marker lines."""
    file: str
    table: str
    start: int
    end: int


def _split_lines(text):
    # Each line keeps its own ending ("\n" or "\r\n"), so joining them
    # gives back the text byte for byte.
    return [line for line in re.split(r"(?<=\n)", text) if line]


def _next_fence(text, fence):
    """The code fence open after line ``text`` (None: none), given ``fence``.

    CommonMark: a fence closes on a line of its character alone, at least as
    long as the opening one.
    """
    match = _FENCE.match(text)
    if fence is None:
        return match.group(1) if match else None
    closes = (match is not None and match.group(1)[0] == fence[0]
              and len(match.group(1)) >= len(fence)
              and not text.strip().strip(fence[0]))
    return None if closes else fence


def find_blocks(lines, name="README"):
    """The results blocks of a README's lines (``_split_lines`` of its text).

    Raises:
        ResultsError: a malformed marker, a block opened inside another, an
            end marker without a start, or a block never closed; named by
            the README's ``name`` and line.
    """
    blocks, start, fence = [], None, None
    for index, line in enumerate(lines):
        text = line.rstrip("\r\n")
        stripped = text.strip()
        if start is None:  # Fences are tracked outside blocks only.
            in_code = fence is not None or _FENCE.match(text)
            fence = _next_fence(text, fence)
            if in_code:
                continue
        if not _MARKER_LIKE.match(stripped):
            continue
        where = f"{name}:{index + 1}"
        opened, closed = _START.match(stripped), _END.match(stripped)
        if opened:
            if start is not None:
                raise ResultsError(
                    f"{where}: a block opens inside the block opened on line "
                    f"{start[2] + 1}; close that one with <!-- /results -->")
            start = (opened["file"], opened["table"], index)
        elif closed:
            if start is None:
                raise ResultsError(f"{where}: <!-- /results --> without a "
                                   "block to close")
            blocks.append(Block(start[0], start[1], start[2], index))
            start = None
        else:
            raise ResultsError(f"{where}: malformed marker {stripped!r}; "
                               "expected <!-- results: FILE.json#TABLE --> "
                               "or <!-- /results -->")
    if start is not None:
        raise ResultsError(f"{name}:{start[2] + 1}: the block of "
                           f"{start[0]}#{start[1]} is never closed by "
                           "<!-- /results -->")
    return blocks


def _read_readme(readme_path):
    readme_path = pathlib.Path(readme_path)
    try:
        # newline="": "\r\n" stays as it is, so untouched text stays so.
        with open(readme_path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ResultsError(f"{readme_path}: no such README") from None


def _rendered_blocks(readme_path, root):
    """``(lines, [(block, rendered lines)])`` of a README."""
    readme_path = pathlib.Path(readme_path)
    root = readme_path.parent if root is None else pathlib.Path(root)
    lines = _split_lines(_read_readme(readme_path))
    documents, rendered = {}, []
    for block in find_blocks(lines, str(readme_path)):
        where = f"{readme_path}:{block.start + 1}"
        if block.file not in documents:
            try:
                documents[block.file] = read(root / block.file)
            except ResultsError as error:
                raise ResultsError(f"{where}: {error}") from None
        tables = documents[block.file]["tables"]
        if block.table not in tables:
            raise ResultsError(
                f"{where}: {block.file} has no table {block.table!r}; its "
                f"tables: {', '.join(sorted(tables))}")
        rendered.append((block, render_lines(tables[block.table])))
    return lines, rendered


def check(readme_path, root=None):
    """Compares every results block of a README with its file's rendering.

    Args:
        readme_path: the README.
        root: the folder the markers' paths are relative to (default: the
            README's).

    Returns:
        A list of ``Mismatch``, empty when every block shows its file.

    Raises:
        ResultsError: a malformed or unclosed block, a missing results file
            or table.
    """
    lines, rendered = _rendered_blocks(readme_path, root)
    mismatches = []
    for block, wanted in rendered:
        shown = [line.rstrip("\r\n")
                 for line in lines[block.start + 1:block.end]]
        for offset, (have, want) in enumerate(
                itertools.zip_longest(shown, wanted)):
            if have != want:
                mismatches.append(Mismatch(
                    str(readme_path), block.start + 2 + offset, block.file,
                    block.table, have, want))
    return mismatches


def update(readme_path, root=None):
    """Re-renders every results block of a README in place, atomically.

    Only the lines between markers change; the file is not rewritten when
    nothing does.

    Returns:
        The ``FILE#TABLE`` of each block whose lines changed.

    Raises:
        ResultsError: as ``check``; then nothing is written.
    """
    lines, rendered = _rendered_blocks(readme_path, root)
    pieces, position, changed = [], 0, []
    for block, wanted in rendered:
        pieces += lines[position:block.start + 1]
        marker = lines[block.start]
        newline = "\r\n" if marker.endswith("\r\n") else "\n"
        new_lines = [line + newline for line in wanted]
        if new_lines != lines[block.start + 1:block.end]:
            changed.append(f"{block.file}#{block.table}")
        pieces += new_lines
        position = block.end
    pieces += lines[position:]
    if changed:
        _write_atomically(readme_path,
                          lambda handle: handle.write("".join(pieces)),
                          newline="")
    return changed


# --- Command line. ---------------------------------------------------------

def describe(document):
    """A results document as text: its provenance, then each table."""
    origin = document["provenance"]
    dirty = {True: " (tracked files modified)", False: "",
             None: ""}[origin["dirty"]]
    lines = [f"command: {origin['command']}",
             f"commit: {origin['commit'] or 'unknown'}{dirty}",
             f"cores: {origin['cpu_count']}", f"date: {origin['date']}"]
    for name, table_value in document["tables"].items():
        lines += ["", f"## {name}", ""]
        if table_value.get("notes"):
            lines += [table_value["notes"], ""]
        lines += render_lines(table_value)
    raw = document.get("raw")
    if isinstance(raw, dict) and raw:
        lines += ["", f"raw: {', '.join(sorted(raw))}"]
    return "\n".join(lines)


def main(argv=None):
    """``python -m tfgen.results``: check, re-render or show results."""
    parser = argparse.ArgumentParser(
        prog="python -m tfgen.results",
        description="The README's results blocks and the files under "
                    "results/ they show.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true",
                        help="list every README line that differs from its "
                             "results file (exit status 1 if any)")
    action.add_argument("--write", action="store_true",
                        help="re-render every results block of the README")
    action.add_argument("--show", metavar="FILE",
                        help="print a results file's provenance and tables")
    parser.add_argument("--readme", default="README.md",
                        help="the README (default: README.md)")
    parser.add_argument("--root", default=None,
                        help="folder the blocks' paths are relative to "
                             "(default: the README's)")
    arguments = parser.parse_args(argv)
    try:
        if arguments.show:
            print(describe(read(arguments.show)))
        elif arguments.check:
            mismatches = check(arguments.readme, arguments.root)
            for mismatch in mismatches:
                print(mismatch)
            if mismatches:
                print(f"{len(mismatches)} line(s) differ from their results "
                      "files; `python -m tfgen.results --write` re-renders "
                      "them", file=sys.stderr)
                return 1
            count = len(find_blocks(_split_lines(
                _read_readme(arguments.readme)), arguments.readme))
            print(f"{arguments.readme}: {count} results block(s) match "
                  "their files")
        else:
            changed = update(arguments.readme, arguments.root)
            print(f"{arguments.readme}: re-rendered "
                  f"{', '.join(changed) if changed else 'nothing'}")
    except ResultsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
