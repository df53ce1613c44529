"""The reliability command's counts add up, and every failure is reported."""

import json
import subprocess
import sys

import pytest

from benchmarks import reliability

REPO = reliability.pathlib.Path(reliability.__file__).resolve().parents[1]


def _document(fuzz_failure=None, survived=True, fault_failures=()):
    fuzz = [{"model": "vae", "tried": 10, "served": 7, "rejected": 3,
             "by_fault": {}, "failure": None},
            {"model": "gan", "tried": 10, "served": 4, "rejected": 6,
             "by_fault": {}, "failure": None}]
    if fuzz_failure:
        fuzz.append({"model": "rbm", "tried": None, "served": None,
                     "rejected": None, "by_fault": {},
                     "failure": fuzz_failure})
    kills = [{"model": "vae", "survived": survived, "exact": survived,
              "lost_epochs": 0,
              "kills": [{"killed": True}, {"killed": False}]}]
    return {
        "benchmark": "reliability", "command": "python -m ...",
        "commit": "0" * 40, "cpu_count": 2, "date": "2026-12-01",
        "fuzz_examples": 10, "fault_trials": 2,
        "kill_cases": {"vae": {}},
        "rows": {
            "signature_fuzz": fuzz,
            "faults": [
                {"model": "vae", "failures": list(fault_failures),
                 "counts": {"checkpoint_damage": {"detected": 2},
                            "export_full_disk": {"written": 1,
                                                 "refused": 1}}},
                {"model": "rbm", "failures": [],
                 "counts": {"checkpoint_damage": {"detected": 1,
                                                  "harmless": 1}}}],
            "kill_resume": kills},
        "kill_summary": {"trials": 1, "kills": 2, "kills_landed": 1,
                         "survived": int(survived),
                         "survived_bit_for_bit": int(survived),
                         "lost_epochs": 0}}


def test_the_counts_add_up():
    records = {record["check"]: record
               for record in reliability.summary_records(_document())}

    fuzzed = records["requests to exported signatures (fuzzed)"]
    assert fuzzed["tried"] == 20 and fuzzed["failed"] == 0
    assert "served 11" in fuzzed["outcomes"]
    assert "rejected naming the input 9" in fuzzed["outcomes"]
    damage = records["checkpoint damage"]
    assert damage["tried"] == 4
    assert damage["outcomes"] == "detected 3, harmless 1"
    assert records["export full disk"]["outcomes"] == "refused 1, written 1"
    killed = records["training runs killed with SIGKILL, started again"]
    assert killed["tried"] == 1 and killed["failed"] == 0
    assert reliability.failures(_document()) == []


@pytest.mark.parametrize("document, where", [
    (_document(fuzz_failure="NaN served"), "signature_fuzz rbm: NaN served"),
    (_document(survived=False), "kill_resume vae"),
    (_document(fault_failures=[{"kind": "export_damage",
                                "detail": "missed"}]),
     "faults vae export_damage: missed"),
])
def test_every_failure_is_reported(document, where):
    found = reliability.failures(document)
    assert len(found) == 1 and found[0].startswith(where)
    failed = {record["check"]: record["failed"]
              for record in reliability.summary_records(document)}
    assert sum(failed.values()) == (0 if where.startswith("faults") else 1)


def test_from_output_renders_the_tables_and_fails_on_a_failure(tmp_path):
    for document, status in ((_document(), 0),
                             (_document(survived=False), 1)):
        output = tmp_path / "output.json"
        output.write_text(json.dumps(document) + "\n")
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.reliability",
             f"--from_output={output}"],
            capture_output=True, text=True, timeout=300, cwd=REPO)
        assert done.returncode == status, done.stderr[-2000:]
        assert "| requests to exported signatures (fuzzed) | 20 |" in (
            done.stdout)
