"""The fault-injection trials sort every outcome, and a broken guard fails them.

``benchmarks.faults`` damages real checkpoint and export files and makes
real writes fail (``RLIMIT_FSIZE``); here a few trials of each kind run on
a tiny model and must all end detected, harmless, written or refused. With
a guard of the project taken away (the integrity read of checkpoints and
of exports), the same trials report failures.
"""

import pathlib

import numpy as np
import pytest

from benchmarks import faults
from tfgen import checkpoints


@pytest.fixture(scope="module")
def subject():
    return faults.Subject("linear_ae")


@pytest.mark.parametrize("kind", faults.KINDS)
def test_every_trial_ends_guarded(subject, kind, tmp_path):
    rng = np.random.default_rng(faults.KINDS.index(kind))
    outcomes = []
    for number in range(3):
        root = tmp_path / str(number)
        root.mkdir()
        outcome, detail = faults.TRIALS[kind](subject, root, rng)
        assert outcome != "failed", f"{kind}: {detail}"
        outcomes.append(outcome)
    assert set(outcomes) <= {"detected", "harmless", "written", "refused"}


def test_a_capped_write_below_any_file_is_refused(subject, tmp_path):
    class NoRoom:  # A cap of 0 bytes: nothing can be written.
        @staticmethod
        def integers(low, high):
            del high
            return low

    assert faults.checkpoint_full_disk(subject, tmp_path / "c",
                                       NoRoom())[0] == "refused"
    assert faults.export_full_disk(subject, tmp_path / "e",
                                   NoRoom())[0] == "refused"


def test_damage_without_the_integrity_read_is_a_failure(subject, tmp_path,
                                                        monkeypatch):
    monkeypatch.setattr(checkpoints, "unreadable", lambda prefix: None)
    rng = np.random.default_rng(0)
    # Truncating the data file at its first byte loses every tensor.
    monkeypatch.setattr(faults, "DAMAGES", ("truncate",))
    outcomes = set()
    for number in range(3):
        try:
            outcome, _ = faults.checkpoint_damage(subject, tmp_path / str(
                number), rng)
        except Exception:  # Restoring unchecked data may raise anywhere.
            outcome = "failed"
        outcomes.add(outcome)
    assert "failed" in outcomes


def test_export_damage_unnoticed_is_a_failure(subject, tmp_path,
                                                      monkeypatch):
    monkeypatch.setattr(checkpoints, "saved_model_unreadable",
                        lambda folder: None)
    rng = np.random.default_rng(1)
    outcome, detail = faults.export_damage(subject, tmp_path, rng)
    assert outcome == "failed", detail


def test_damage_file_changes_the_file(tmp_path):
    rng = np.random.default_rng(0)
    original = bytes(range(256)) * 4
    for how in faults.DAMAGES:
        path = tmp_path / how
        path.write_bytes(original)
        faults.damage_file(path, how, rng)
        assert not path.exists() or path.read_bytes() != original, how


def test_the_command_refuses_an_unknown_model():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.faults", "--fault_model=nope"],
        capture_output=True, text=True, timeout=300,
        cwd=pathlib.Path(faults.__file__).resolve().parents[1])
    assert done.returncode == 2, done.stderr
    assert "nope" in done.stderr.strip().splitlines()[-1]

