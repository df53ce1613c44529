"""Training runs killed with SIGKILL resume and end bit for bit as if never killed.

Each test runs ``python -m tfgen.train --deterministic`` in subprocesses:
once uninterrupted, then a fresh workdir killed twice (as soon as epoch 1's
checkpoint appears, then at a random moment) and started again to its end. Three
kinds of run: a staged model killed inside a stage (``dbn``, two epochs per
layer, killed when the first epoch's checkpoint appears), a model with
persistent chains (``rbm`` with PCD) and one with fresh noise each step and
fresh binary images each epoch (``vae``).
"""

import json
import pathlib

import numpy as np
import pytest

from benchmarks import kill_resume

# The first kill comes as soon as epoch 1's checkpoint appears: inside
# training, and for the dbn inside its first stage (epochs 1-2).
FIRST_KILL_EPOCH = 1


@pytest.mark.parametrize("name", sorted(kill_resume.CASES))
def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_one(
        name, data_dir, tmp_path):
    case = kill_resume.CASES[name]
    uninterrupted, expected = kill_resume.reference(
        case, tmp_path / "reference", data_dir)

    row = kill_resume.trial(
        case, tmp_path / "killed", data_dir,
        rng=np.random.default_rng(sorted(kill_resume.CASES).index(name)),
        uninterrupted=uninterrupted, expected=expected, kills=2,
        first_kill_epoch=FIRST_KILL_EPOCH)

    first = row["kills"][0]
    report = json.dumps(row, indent=1)
    assert first["killed"], report
    # Killed in training: some epochs were done, not all of them.
    assert 0 < max(first["whole_checkpoints"]) < kill_resume._total_epochs(
        case), report
    assert row["survived"], report
    assert row["lost_epochs"] == 0, report
    # The resumed run started from the newest checkpoint the kill left.
    assert first["next_resumed_from"] in (None, max(
        first["whole_checkpoints"])), report
    if name == "dbn":
        # Epoch 1 ends inside the first layer's stage of two epochs.
        assert max(first["whole_checkpoints"]) % 2 == 1, report


def test_differing_state_is_reported():
    state = {"a": np.zeros(3), "b": np.ones(2), "n": np.array([3])}
    nudged = {"a": np.zeros(3), "b": np.array([1.0, 1.0 + 1e-12]),
              "n": np.array([3])}

    assert kill_resume.differing_tensors(state, dict(state)) == []
    assert kill_resume.differing_tensors(state, nudged) == ["b"]
    assert kill_resume.differing_tensors(state, nudged, 1e-3) == []
    assert kill_resume.differing_tensors(
        state, {**nudged, "b": np.array([1.0, 1.01])}, 1e-3) == ["b"]
    # Integers are compared exactly whatever the tolerance.
    assert kill_resume.differing_tensors(
        state, {**state, "n": np.array([4])}, 1e-3) == ["n"]
    assert kill_resume.differing_tensors(state, {"a": np.zeros(3)}) == [
        "b", "n"]
    assert kill_resume.largest_difference(state, nudged) == pytest.approx(
        1e-12, abs=1e-15)


def test_a_start_killed_before_its_restore_is_not_judged():
    fresh = kill_resume.Start(1.0, "Epoch 1/4\n", 0, False, {})
    resumed = kill_resume.Start(
        1.0, "Resuming from w/ckpt-3 (3 epochs done).\nEpoch 4/4\n", 0, False,
        {})
    too_soon = kill_resume.Start(0.5, "", -9, True, {})

    assert fresh.resumed_epoch == 0
    assert resumed.resumed_epoch == 3
    assert too_soon.resumed_epoch is None


def test_the_command_rejects_an_unknown_case(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.kill_resume", "--kill_models=nope"],
        capture_output=True, text=True, timeout=120,
        cwd=pathlib.Path(kill_resume.__file__).resolve().parents[1])

    assert done.returncode == 2, done.stderr
    assert "--kill_models" in done.stderr.strip().splitlines()[-1]
