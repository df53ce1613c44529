"""Results files and the README blocks rendered from them."""

import datetime
import json
import os
import platform
import re
import subprocess
import sys

import pytest

from tfgen import results

REPOSITORY = results.REPOSITORY

TABLES = {
    "speed": results.table(
        ["data", "batch", "ours s/epoch", "peer s/epoch", "ratio", "share",
         "modes", "converged"],
        [["`digits`", 10, 0.0127, 0.0087, 0.0127 / 0.0087, 0.7, [7.6, 0.5],
          True],
         ["", 100, 0.0044, None, None, 0.05, [1.0, 0.0], False]],
        formats={"ours s/epoch": ".4f", "peer s/epoch": ".4f",
                 "ratio": ".2f", "share": ".1%",
                 "modes": "{:.1f} ± {:.1f}"},
        notes="Seconds per epoch, median of 3; ratio ours / peer.",
        align={"ratio": "right"}),
    "quality": results.table(["model", "FD"], [["`dcgan`", 12.3456]],
                             formats={"FD": ".2f"}),
}

SPEED_MARKDOWN = """\
| data | batch | ours s/epoch | peer s/epoch | ratio | share | modes | converged |
|---|---|---|---|---:|---|---|---|
| `digits` | 10 | 0.0127 | 0.0087 | 1.46 | 70.0% | 7.6 ± 0.5 | yes |
| | 100 | 0.0044 | — | — | 5.0% | 1.0 ± 0.0 | no |"""

BEFORE = ("# A README\r\n"
          "Prose with a 3.14 that no block owns, and an example:\n"
          "```markdown\n"
          "<!-- results: results/absent.json#nothing -->\n"
          "```\n"
          "\n")
BETWEEN = "\nMore prose, ünïcode.\n\n"
AFTER = "\nLast line without a newline"


def _readme(tmp_path, speed_lines="", quality_lines=""):
    text = (BEFORE + "<!-- results: results/bench.json#speed -->\n"
            + speed_lines + "<!-- /results -->\n" + BETWEEN
            + "<!-- results: results/bench.json#quality -->\n"
            + quality_lines + "<!-- /results -->\n" + AFTER)
    path = tmp_path / "README.md"
    path.write_bytes(text.encode("utf-8"))
    return path


def _fixture(tmp_path):
    """A results file and a README whose blocks show it, freshly updated."""
    results.write(tmp_path / "results" / "bench.json", TABLES,
                  raw={"rows": [{"batch_size": 10}]}, command="bench --x=1")
    readme = _readme(tmp_path)
    assert results.update(readme) == ["results/bench.json#speed",
                                      "results/bench.json#quality"]
    return readme


def test_write_then_read_gives_back_the_tables_and_raw(tmp_path):
    path = tmp_path / "results" / "bench.json"
    written = results.write(path, TABLES, raw={"b": [1, 2.5], "a": None},
                            command=["bench", "--name=a b"])
    document = results.read(path)
    assert document == written
    assert document["tables"] == TABLES
    assert document["raw"] == {"b": [1, 2.5], "a": None}
    assert document["provenance"]["command"] == "bench '--name=a b'"
    # Sorted keys, indented, one trailing newline: diffs stay small.
    assert path.read_text(encoding="utf-8") == json.dumps(
        document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_provenance_records_the_command_commit_cores_and_date(monkeypatch):
    monkeypatch.setattr(sys, "argv", [
        str(REPOSITORY / "benchmarks" / "gan_quality.py"),
        "--bench_epochs=2", "--config.name=a b"])
    before = datetime.datetime.now(datetime.timezone.utc)
    origin = results.provenance()
    after = datetime.datetime.now(datetime.timezone.utc)
    assert set(results.PROVENANCE_FIELDS) <= set(origin)
    assert origin["command"] == ("python -m benchmarks.gan_quality "
                                 "--bench_epochs=2 '--config.name=a b'")
    git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPOSITORY,
                         capture_output=True, text=True)
    expected_commit = git.stdout.strip() if git.returncode == 0 else None
    assert origin["commit"] == expected_commit
    assert isinstance(origin["dirty"], bool) or expected_commit is None
    assert origin["cpu_count"] == os.cpu_count()
    date = datetime.datetime.fromisoformat(origin["date"])
    assert date.utcoffset() == datetime.timedelta(0)
    # Whole seconds: the date may read up to a second before `before`.
    assert before - datetime.timedelta(seconds=1) <= date <= after
    assert origin["versions"]["python"] == platform.python_version()
    assert results.provenance("given command")["command"] == "given command"


def test_dirty_means_tracked_files_differ_from_the_commit(tmp_path):
    def git(*arguments):
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *arguments],
            cwd=tmp_path, capture_output=True, text=True,
            check=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "tracked.txt").write_text("a\n")
    git("add", "tracked.txt")
    git("commit", "-q", "-m", "first")
    (tmp_path / "untracked.txt").write_text("not counted\n")
    clean = results.provenance("x", repository=tmp_path)
    assert clean["commit"] == git("rev-parse", "HEAD")
    assert clean["dirty"] is False
    (tmp_path / "tracked.txt").write_text("b\n")
    assert results.provenance("x", repository=tmp_path)["dirty"] is True
    outside = tmp_path / "not_a_checkout"
    outside.mkdir()
    (outside / ".git").write_text("gitdir: /nonexistent\n")
    assert {key: results.provenance("x", repository=outside)[key]
            for key in ("commit", "dirty")} == {"commit": None,
                                                "dirty": None}


def test_command_line_of_a_script_and_of_an_outside_program():
    script = str(REPOSITORY / "tfgen" / "results.py")
    assert results.command_line([script, "--check"]) == (
        "python -m tfgen.results --check")
    assert results.command_line(["/usr/bin/tool", "a b"]) == (
        "/usr/bin/tool 'a b'")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "bench.json"
    results.write(path, TABLES, command="first")
    old = path.read_bytes()
    # "z..." sorts last: the tables are already written when it fails.
    with pytest.raises(results.ResultsError, match="cannot be written"):
        results.write(path, TABLES, raw={"a": 1, "z": object()},
                      command="second")
    with pytest.raises(results.ResultsError, match="cannot be written"):
        results.write(path, TABLES, raw={"z": float("nan")}, command="third")
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]


def test_benchmark_documents_are_wrapped_with_their_own_provenance(tmp_path):
    document = {"benchmark": "gan_quality", "command": "python -m x",
                "commit": "abc", "tracked_files_modified": True,
                "cpu_count": 2, "date": "2024-01-02T03:04:05+00:00",
                "rows": [{"run": "dcgan", "frechet_distance": 3.14159},
                         {"run": "gan", "frechet_distance": None}]}
    quality = results.records_table(
        document["rows"], {"run": "run", "FD": "frechet_distance"},
        formats={"FD": ".2f"})
    path = tmp_path / "gan_quality.json"
    results.write(path, {"quality": quality}, raw=document,
                  origin=results.provenance_of(document))
    read = results.read(path)
    assert read["provenance"] == {
        "command": "python -m x", "commit": "abc", "dirty": True,
        "cpu_count": 2, "date": "2024-01-02T03:04:05+00:00"}
    assert read["raw"] == document
    assert results.render_table(read["tables"]["quality"]).splitlines()[2:] \
        == ["| dcgan | 3.14 |", "| gan | — |"]
    with pytest.raises(ValueError, match="no 'FD2'"):
        results.records_table(document["rows"], {"FD": "FD2"})
    with pytest.raises(ValueError, match="command and origin"):
        results.write(path, {"quality": quality}, command="x",
                      origin=results.provenance_of(document))
    with pytest.raises(ValueError, match="no commit"):
        results.provenance_of({"command": "x", "cpu_count": 1, "date": "d"})


MEASURED = {"benchmark": "speed", "command": "python -m benchmarks.speed",
            "commit": "abc", "dirty": False, "cpu_count": 2,
            "date": "2024-01-02T03:04:05+00:00", "platform": "Linux-x86_64",
            "versions": {"python": "3.11.9", "numpy": "2.1.0"},
            "rows": [{"run": "dcgan", "frechet_distance": 12.3456}]}


def test_write_measured_keeps_the_documents_provenance_and_raw(tmp_path):
    quality = results.records_table(
        MEASURED["rows"], {"model": "run", "FD": "frechet_distance"},
        formats={"FD": ".2f"})
    written = results.write_measured(tmp_path / "speed.json",
                                     {"quality": quality}, MEASURED)
    assert results.read(tmp_path / "speed.json") == written
    assert written["provenance"] == {
        "command": "python -m benchmarks.speed", "commit": "abc",
        "dirty": False, "cpu_count": 2, "date": "2024-01-02T03:04:05+00:00",
        "platform": "Linux-x86_64",
        "versions": {"python": "3.11.9", "numpy": "2.1.0"}}
    assert written["raw"] == MEASURED
    with pytest.raises(ValueError, match="no commit, date"):
        results.write_measured(
            tmp_path / "bare.json", {"quality": quality},
            {key: value for key, value in MEASURED.items()
             if key not in ("commit", "date")})
    assert not (tmp_path / "bare.json").exists()


def test_read_output_finds_the_benchmarks_line_in_a_saved_output(tmp_path):
    other = dict(MEASURED, benchmark="gan_quality")
    output = tmp_path / "output.txt"
    output.write_text("\n".join([
        "Training dcgan", "{not json", json.dumps(other),
        json.dumps(MEASURED), "", "| model | FD |"]) + "\n")
    assert results.read_output(output, "speed", required=("rows",)) \
        == MEASURED
    # The document alone, indented: the whole text.
    alone = tmp_path / "speed.json"
    alone.write_text(json.dumps(MEASURED, indent=2))
    assert results.read_output(alone, "speed") == MEASURED


@pytest.mark.parametrize("lines, message", [
    ([{"benchmark": "gan_quality"}, {"rows": []}],
     r"not a speed document \(benchmark: 'gan_quality', None\)"),
    ([{k: v for k, v in MEASURED.items() if k != "rows"}],
     "its speed document lacks rows"),
    ([{k: v for k, v in MEASURED.items() if k != "commit"}],
     "its speed document lacks commit"),
    (["Training dcgan", "[1, 2]"], "no JSON document"),
])
def test_read_output_names_the_file_and_what_is_wrong(tmp_path, lines,
                                                      message):
    output = tmp_path / "output.txt"
    output.write_text("\n".join(
        line if isinstance(line, str) else json.dumps(line)
        for line in lines))
    with pytest.raises(results.ResultsError,
                       match=f"^{re.escape(str(output))}: {message}"):
        results.read_output(output, "speed", required=("rows",))


def test_read_output_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(results.ResultsError,
                       match=f"^{re.escape(str(tmp_path))}/gone.txt: no such "
                             "file"):
        results.read_output(tmp_path / "gone.txt", "speed")


def test_render_applies_formats_and_shows_none_as_a_dash():
    assert results.render_table(TABLES["speed"]) == SPEED_MARKDOWN
    assert results.format_cell(1234567, ",d") == "1,234,567"
    assert results.format_cell(-0.01234, "+.3f") == "-0.012"
    assert results.format_cell(12.4, "{:.0f} s") == "12 s"
    assert results.format_cell("a|b") == r"a\|b"
    assert results.format_cell(None, ".2f") == "—"
    assert results.format_cell(3) == "3"
    assert results.format_cell([0.181, 0.112, None], ".1%") == (
        "18.1%, 11.2%, —")
    assert results.format_cell([8, 8, 7]) == "8, 8, 7"


def test_a_cell_of_its_own_format_overrides_its_column():
    quality = results.table(
        ["run", "s/epoch", "FD"],
        [["MNIST", 0.497, results.cell(12.78, "**{:.2f}**")],
         ["digits", results.cell(0.0127, ".4f"), 21.854],
         ["reused", results.cell([132.4, "reused"], "{:.0f} ({})"), None]],
        formats={"s/epoch": ".3f", "FD": ".2f"})
    assert results.render_table(quality).splitlines()[2:] == [
        "| MNIST | 0.497 | **12.78** |",
        "| digits | 0.0127 | 21.85 |",
        "| reused | 132 (reused) | — |"]


@pytest.mark.parametrize("columns, rows, formats, message", [
    (["a"], [[1, 2]], {}, "row 0 must be a list of 1 cells"),
    (["a", "a"], [], {}, "repeated columns"),
    (["a"], [[1]], {"b": ".2f"}, r"names columns \['b'\]"),
    (["a"], [[1.5]], {"a": "d"}, "row 0, column 'a': cannot format 1.5"),
    (["a"], [[[1, 2]]], {"a": "{:.1f} ± {:.1f} of {}"}, "cannot format"),
    (["a"], [[[1, [2]]]], {}, "nested lists are not cells"),
    (["a"], [[float("inf")]], {}, "not a finite number"),
    (["a"], [[{"x": 1}]], {}, "a cell object must be"),
    (["a"], [[results.cell({"value": 1, "format": "d"}, "d")]], {},
     "dict is not a cell"),
    (["a"], [[set()]], {}, "set is not a cell"),
])
def test_bad_tables_are_refused_naming_what_is_wrong(columns, rows, formats,
                                                     message):
    with pytest.raises(ValueError, match=message):
        results.table(columns, rows, formats=formats)


def test_check_passes_on_a_fresh_readme_and_fails_on_a_hand_edit(tmp_path):
    readme = _fixture(tmp_path)
    assert results.check(readme) == []
    text = readme.read_text(encoding="utf-8")
    assert SPEED_MARKDOWN + "\n<!-- /results -->" in text
    edited = text.replace("| 1.46 |", "| 1.45 |")
    assert edited != text
    readme.write_text(edited, encoding="utf-8")
    [mismatch] = results.check(readme)
    line = 1 + text.splitlines().index(SPEED_MARKDOWN.splitlines()[2])
    assert (mismatch.line, mismatch.file, mismatch.table) == (
        line, "results/bench.json", "speed")
    assert "| 1.45 |" in mismatch.readme_line
    assert "| 1.46 |" in mismatch.rendered_line
    assert f"README.md:{line}: results/bench.json#speed" in str(mismatch)


def test_check_fails_when_the_file_changes_and_the_readme_does_not(tmp_path):
    readme = _fixture(tmp_path)
    changed = dict(TABLES)
    changed["quality"] = results.table(["model", "FD"], [["`dcgan`", 11.0],
                                                         ["`gan`", 20.0]],
                                       formats={"FD": ".2f"})
    results.write(tmp_path / "results" / "bench.json", changed,
                  command="bench --x=2")
    mismatches = results.check(readme)
    assert [(m.table, m.readme_line, m.rendered_line) for m in mismatches] \
        == [("quality", "| `dcgan` | 12.35 |", "| `dcgan` | 11.00 |"),
            ("quality", None, "| `gan` | 20.00 |")]
    assert results.update(readme) == ["results/bench.json#quality"]
    assert results.check(readme) == []
    assert results.update(readme) == []  # nothing left to change


def test_update_leaves_text_outside_the_blocks_byte_identical(tmp_path):
    readme = _readme(tmp_path, speed_lines="| stale |\n| rows |\n")
    results.write(tmp_path / "results" / "bench.json", TABLES, command="x")
    results.update(readme)
    data = readme.read_bytes()
    speed = data.index(b"<!-- /results -->")
    assert data.startswith(
        BEFORE.encode() + b"<!-- results: results/bench.json#speed -->\n"
        + SPEED_MARKDOWN.encode() + b"\n")
    assert data[speed:].startswith(b"<!-- /results -->\n" + BETWEEN.encode())
    assert data.endswith(b"<!-- /results -->\n" + AFTER.encode())


@pytest.mark.parametrize("text, message", [
    ("<!-- results: results/absent.json#speed -->\n<!-- /results -->\n",
     r"README.md:1: .*results/absent.json: no such results file"),
    ("x\n<!-- results: results/bench.json#nope -->\n<!-- /results -->\n",
     "README.md:2: results/bench.json has no table 'nope'; its tables: "
     "quality, speed"),
    ("<!-- results: results/bench.json#speed -->\n| a |\n",
     "README.md:1: the block of results/bench.json#speed is never closed"),
    ("<!-- results: results/bench.json#speed -->\n"
     "<!-- results: results/bench.json#quality -->\n<!-- /results -->\n",
     "README.md:2: a block opens inside the block opened on line 1"),
    ("<!-- /results -->\n", "README.md:1: <!-- /results --> without a block"),
    ("<!-- results: results/bench.json -->\n", "README.md:1: malformed"),
])
def test_bad_blocks_are_errors_naming_the_readme_line(tmp_path, text,
                                                      message):
    results.write(tmp_path / "results" / "bench.json", TABLES, command="x")
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    before = readme.read_bytes()
    for function in (results.check, results.update):
        with pytest.raises(results.ResultsError, match=message):
            function(readme)
    assert readme.read_bytes() == before


def test_markers_in_code_fences_are_examples_not_blocks():
    text = ("````markdown\n```\n<!-- results: a.json#t -->\n```\n````\n"
            "~~~\n<!-- /results -->\n~~~~\n"
            "<!-- results: b.json#t -->\n```\n<!-- /results -->\n")
    lines = results._split_lines(text)
    # Only the last block counts; a fence opened inside a block is text.
    assert results.find_blocks(lines) == [results.Block("b.json", "t", 8,
                                                        10)]


@pytest.mark.parametrize("content, message", [
    ("{", "bench.json: not valid JSON"),
    ('{"provenance": {}, "tables": {}}', "bench.json: provenance lacks "
     "command, commit, dirty, cpu_count, date"),
    ('{"tables": {}, "provenance": {"command": "c", "commit": null, '
     '"dirty": null, "cpu_count": 2, "date": "2024-01-01"}}',
     "bench.json: tables must be a non-empty object"),
    ('{"tables": {"t": {"columns": ["a"], "rows": [[NaN]]}}, "provenance": '
     '{"command": "c", "commit": null, "dirty": null, "cpu_count": 2, '
     '"date": "2024-01-01"}}', "bench.json: not valid JSON: NaN"),
    ('{"tables": {"t": {"columns": ["a"], "rows": [[1, 2]]}}, "provenance": '
     '{"command": "c", "commit": null, "dirty": null, "cpu_count": 2, '
     '"date": "2024-01-01"}}', "bench.json: table 't': row 0 must be"),
])
def test_read_names_the_file_and_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "bench.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(results.ResultsError, match=message):
        results.read(path)
    with pytest.raises(results.ResultsError, match="absent.json: no such"):
        results.read(tmp_path / "absent.json")


def test_command_line_checks_writes_and_shows(tmp_path, capsys):
    readme = _readme(tmp_path)  # blocks still empty
    results.write(tmp_path / "results" / "bench.json", TABLES,
                  command="bench --x=1")
    assert results.main(["--check", f"--readme={readme}"]) == 1
    out, err = capsys.readouterr()
    assert "README.md:8: results/bench.json#speed differs" in out
    assert "--write" in err
    assert results.main(["--write", f"--readme={readme}"]) == 0
    assert results.main(["--check", f"--readme={readme}"]) == 0
    assert "2 results block(s) match" in capsys.readouterr().out
    assert results.main(["--show",
                         str(tmp_path / "results" / "bench.json")]) == 0
    shown = capsys.readouterr().out
    assert "command: bench --x=1" in shown
    assert SPEED_MARKDOWN in shown
    assert results.main(["--show", str(tmp_path / "absent.json")]) == 1
    assert "absent.json: no such results file" in capsys.readouterr().err


def test_the_module_runs_as_a_command(tmp_path):
    readme = _fixture(tmp_path)
    readme.write_text(readme.read_text().replace("12.35", "12.36"))
    finished = subprocess.run(
        [sys.executable, "-m", "tfgen.results", "--check",
         f"--readme={readme}"], cwd=REPOSITORY, capture_output=True,
        text=True, timeout=120)
    assert finished.returncode == 1, finished.stderr
    assert re.search(r"README\.md:\d+: results/bench\.json#quality differs",
                     finished.stdout)
