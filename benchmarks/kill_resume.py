"""Kill trials: runs killed with SIGKILL resume and end as if never killed.

Each trial starts ``python -m tfgen.train --deterministic`` on a fresh
workdir, kills it with SIGKILL at random moments, starts it again after
each kill, and lets the last start run to its end (training, evaluation,
export). It survives when

* every start after a kill resumes from the newest checkpoint that was
  whole when the process died, so at most the work since that checkpoint
  is lost (``lost_epochs`` counts the epochs run twice);
* no export version visible to TF Serving is half-written;
* the final checkpoint holds, tensor for tensor, the state of an
  uninterrupted run of the same command (the reference): equal, or for
  floats within ``ROUND_OFF`` (relative), the round-off by which two
  uninterrupted runs of the dbn can differ; ``exact`` says whether every
  tensor was equal bit for bit.

The first kill of a trial lands inside training: just after a random
epoch's checkpoint appears, plus a random part of an epoch. The others land
anywhere from the start of the process to the reference's end (start-up,
any epoch, a checkpoint write, evaluation or export).

From the repository root, the README's reliability counts use:

    python -m benchmarks.kill_resume --kill_models=dbn,rbm,vae --kill_trials=4

which prints one JSON document (one row per trial) and a summary line.
Bad flags print one line on stderr and exit with status 2.
"""

import dataclasses
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

# Run as a script, the repository root is not on the path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tfgen import cli  # noqa: E402

FLAGS = flags.FLAGS

ROOT = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Case:
    """A training command to kill: a model in its tiny config."""

    model: str
    epochs: int
    overrides: tuple = ()  # ((field, value), ...) as --config.FIELD=VALUE

    def argv(self, workdir, data_dir):
        """The command line of one start of the run."""
        return [sys.executable, "-m", "tfgen.train", f"--model={self.model}",
                "--config_variant=tiny", f"--epochs={self.epochs}",
                f"--workdir={workdir}", f"--data_dir={data_dir}",
                "--deterministic",
                *(f"--config.{key}={value}" for key, value in self.overrides)]


# A staged model killed inside a stage (two epochs per layer), a model with
# persistent chains, and one with noise in every step and fresh binary
# images each epoch.
CASES = {
    "dbn": Case("dbn", 2, (("pretrain_epochs", 2),)),
    "rbm": Case("rbm", 4, (("training", "pcd"),)),
    "vae": Case("vae", 4),
}

flags.DEFINE_list("kill_models", list(CASES), f"Cases, of {list(CASES)}.")
flags.register_validator(
    "kill_models",
    lambda names: bool(names) and all(n in CASES for n in names),
    message=f"--kill_models: expected names of {list(CASES)}")
flags.DEFINE_integer("kill_trials", 3, "Trials per model.", lower_bound=1)
flags.DEFINE_integer("kills", 2, "Kills per trial.", lower_bound=1)
flags.DEFINE_integer("kill_seed", 0, "Seed of the kill moments.")
cli.define_shared_flag(flags.DEFINE_string, "data_dir", None,
                       "TFDS folder of prepared datasets (a temporary one if "
                       "unset).")

_RESUMED = re.compile(r"Resuming from \S+ \((\d+) epochs done\)")
_EPOCH = re.compile(r"^Epoch \d+/\d+", re.MULTILINE)  # Keras's progress.
_POLL_SECONDS = 0.01


def environment():
    """This process's environment for a ``tfgen.train`` child: the
    repository importable, the TensorFlow backend, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                       if p])
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env["PYTHONUNBUFFERED"] = "1"  # A killed start's lines are kept.
    return env


def checkpoint_epochs(workdir):
    """Epochs of the checkpoints in a workdir whose every tensor reads back."""
    from tfgen import checkpoints

    folder = pathlib.Path(workdir) / "checkpoints"
    epochs = []
    for index in folder.glob("ckpt-*.index"):
        prefix = str(index)[:-len(".index")]
        if checkpoints.unreadable(prefix) is None:
            epochs.append(int(prefix.rsplit("-", 1)[1]))
    return sorted(epochs)


def half_written_exports(workdir):
    """Export versions TF Serving would load that do not read back whole."""
    from tfgen import checkpoints

    bad = []
    for version in sorted((pathlib.Path(workdir) / "export").glob("*/*")):
        if version.name.isdigit():
            reason = checkpoints.saved_model_unreadable(version)
            if reason is not None:
                bad.append(reason)
    return bad


def final_state(workdir):
    """Every tensor of the workdir's newest checkpoint but the save count."""
    import tensorflow as tf

    prefix = tf.train.latest_checkpoint(str(pathlib.Path(workdir)
                                            / "checkpoints"))
    if prefix is None:
        raise RuntimeError(f"{workdir} holds no checkpoint")
    reader = tf.train.load_checkpoint(prefix)
    return {key: reader.get_tensor(key)
            for key in reader.get_variable_to_shape_map()
            if not key.startswith("save_counter")}


# Float state may differ by round-off between two uninterrupted runs of the
# same command: the dbn's does, by up to about 5e-5 in one layer's weights
# (seen with oneDNN on and off, and with one intra-op thread). A resume that
# trained on other batches or noise differs by 1e-2 and more.
ROUND_OFF = 1e-3


def differing_tensors(expected, found, tolerance=0.0):
    """Names of the tensors that differ by more than ``tolerance`` (times
    1 + |value| for floats), or exist in one state only."""
    names = sorted(set(expected) | set(found))
    return [name for name in names
            if name not in expected or name not in found
            or not _close(np.asarray(expected[name]), np.asarray(found[name]),
                          tolerance)]


def _close(expected, found, tolerance):
    if expected.shape != found.shape or expected.dtype != found.dtype:
        return False
    if tolerance == 0.0 or expected.dtype.kind != "f":
        return np.array_equal(expected, found)
    return bool(np.all(np.abs(expected - found)
                       <= tolerance * (1.0 + np.abs(expected))))


def largest_difference(expected, found):
    """The largest absolute difference of the float tensors both hold."""
    differences = [float(np.max(np.abs(np.asarray(expected[name], np.float64)
                                       - np.asarray(found[name], np.float64))))
                   for name in set(expected) & set(found)
                   if np.asarray(expected[name]).dtype.kind == "f"
                   and np.asarray(expected[name]).size
                   and np.shape(expected[name]) == np.shape(found[name])]
    return max(differences, default=0.0)


@dataclasses.dataclass
class Start:
    """One start of a run: killed, or run to its end."""

    seconds: float
    output: str
    returncode: int
    killed: bool
    checkpoint_seconds: dict = None  # {epoch: when its checkpoint appeared}
    whole_checkpoints: tuple = ()  # Their epochs when the process ended.

    @property
    def resumed_epoch(self):
        """The epoch it resumed from (0: from scratch), or None if it
        ended before the restore (no epoch and no resume line printed)."""
        match = _RESUMED.search(self.output)
        if match:
            return int(match.group(1))
        return 0 if _EPOCH.search(self.output) else None

    @property
    def epoch_seconds(self):
        """Mean seconds between its checkpoints (0 with fewer than two)."""
        times = sorted(self.checkpoint_seconds.values())
        if len(times) < 2:
            return 0.0
        return (times[-1] - times[0]) / (len(times) - 1)


def start(case, workdir, data_dir, *, kill_when=None):
    """Starts the run once; kills it with SIGKILL when ``kill_when`` says so.

    Args:
        kill_when: None (run to the end), or a function of
            ``(seconds since start, epochs of the checkpoint files present)``
            returning True when it is time to kill.

    Returns:
        A ``Start``.
    """
    checkpoint_dir = pathlib.Path(workdir) / "checkpoints"
    with tempfile.TemporaryFile("w+") as output:
        began = time.monotonic()
        process = subprocess.Popen(
            case.argv(workdir, data_dir), stdout=output,
            stderr=subprocess.STDOUT, env=environment(), cwd=ROOT)
        appeared, killed = {}, False
        while process.poll() is None:
            elapsed = time.monotonic() - began
            present = sorted(int(index.stem.rsplit("-", 1)[1]) for index in
                             checkpoint_dir.glob("ckpt-*.index"))
            for epoch in present:
                appeared.setdefault(epoch, elapsed)
            if kill_when is not None and kill_when(elapsed, present):
                process.send_signal(signal.SIGKILL)
                process.wait()
                killed = True
                break
            time.sleep(_POLL_SECONDS)
        seconds = time.monotonic() - began
        output.seek(0)
        text = output.read()
    return Start(seconds, text, process.returncode, killed, appeared,
                 tuple(checkpoint_epochs(workdir)))


def reference(case, workdir, data_dir):
    """The uninterrupted run: ``(Start, final state)``."""
    run = start(case, workdir, data_dir)
    if run.returncode != 0:
        raise RuntimeError(f"{case.model}: the uninterrupted run failed "
                           f"(status {run.returncode}):\n{run.output[-3000:]}")
    return run, final_state(workdir)


def _kill_in_training(rng, case, uninterrupted, epoch=None):
    """Just after a random epoch's checkpoint, plus part of an epoch; or,
    given ``epoch``, as soon as that epoch's checkpoint appears."""
    if epoch is None:
        epoch = int(rng.integers(1, max(_total_epochs(case), 2)))
        delay = float(rng.uniform(0.0, uninterrupted.epoch_seconds))
    else:
        delay = 0.0
    seen = {}

    def when(elapsed, present):
        if epoch in present and "at" not in seen:
            seen["at"] = elapsed
        return "at" in seen and elapsed >= seen["at"] + delay
    return when


def _kill_anywhere(rng, uninterrupted):
    moment = float(rng.uniform(0.0, uninterrupted.seconds))
    return lambda elapsed, present: elapsed >= moment


def _total_epochs(case):
    overrides = dict(case.overrides)
    if "pretrain_epochs" in overrides:
        from tfgen import registry
        import zoo  # noqa: F401

        layers = len(registry.get(case.model).get_config("tiny").hidden_units)
        return case.epochs + layers * int(overrides["pretrain_epochs"])
    return case.epochs


def trial(case, workdir, data_dir, *, rng, uninterrupted, expected, kills,
          first_kill_epoch=None):
    """Kills a fresh run ``kills`` times, then runs it to its end.

    The first kill comes just after a checkpoint (``first_kill_epoch``'s
    at once, if given), the others at any moment.

    Returns:
        A JSON-ready dict: each kill's moment and the checkpoints then
        whole, the epoch each next start resumed from, the epochs lost,
        half-written exports seen, the final status and the tensors that
        differ from the uninterrupted run's (none when it survived).
    """
    events, lost, half_written = [], 0, []
    for number in range(kills):
        when = (_kill_in_training(rng, case, uninterrupted,
                                  epoch=first_kill_epoch) if number == 0
                else _kill_anywhere(rng, uninterrupted))
        run = start(case, workdir, data_dir, kill_when=when)
        half_written += half_written_exports(workdir)
        events.append({"killed": run.killed,
                       "seconds": round(run.seconds, 2),
                       "resumed_from": run.resumed_epoch,
                       "whole_checkpoints": list(run.whole_checkpoints)})
    final = start(case, workdir, data_dir)
    half_written += half_written_exports(workdir)
    # Each start that got as far as the restore against the newest whole
    # checkpoint the kill before it left; one killed sooner is not judged.
    after = [event["resumed_from"] for event in events[1:]]
    after.append(final.resumed_epoch)
    for event, resumed_from in zip(events, after):
        newest = max(event["whole_checkpoints"], default=0)
        event["next_resumed_from"] = resumed_from
        event["resumed_from_newest"] = resumed_from in (None, newest)
        lost += 0 if resumed_from is None else max(newest - resumed_from, 0)
    if final.returncode == 0:
        state = final_state(workdir)
        differing = differing_tensors(expected, state, ROUND_OFF)
        exact = not differing_tensors(expected, state)
        largest = largest_difference(expected, state)
    else:
        differing, exact, largest = ["(the last start failed)"], False, None
    survived = (final.returncode == 0 and not differing and not half_written
                and all(event["resumed_from_newest"] for event in events))
    return {"model": case.model, "kills": events,
            "returncode": final.returncode, "lost_epochs": lost,
            "half_written_exports": half_written,
            "differing_tensors": differing, "exact": exact,
            "largest_difference": largest, "survived": survived,
            "output_tail": "" if survived else final.output[-2000:]}


def run_trials(names, *, trials, kills, seed, data_dir, root):
    """Every case's reference run and trials; returns the rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for name in names:
        case = CASES[name]
        uninterrupted, expected = reference(
            case, pathlib.Path(root) / f"{name}-reference", data_dir)
        for number in range(trials):
            row = trial(case, pathlib.Path(root) / f"{name}-trial{number}",
                        data_dir, rng=rng, uninterrupted=uninterrupted,
                        expected=expected, kills=kills)
            print(json.dumps({key: row[key] for key in
                              ("model", "survived", "lost_epochs")}),
                  file=sys.stderr, flush=True)  # Progress.
            rows.append(row)
    return rows


def summary(rows):
    """Counts: trials, kills, kills that landed, trials survived."""
    return {"trials": len(rows),
            "kills": sum(len(row["kills"]) for row in rows),
            "kills_landed": sum(event["killed"] for row in rows
                                for event in row["kills"]),
            "survived": sum(row["survived"] for row in rows),
            "survived_bit_for_bit": sum(row["survived"] and row["exact"]
                                        for row in rows),
            "lost_epochs": sum(row["lost_epochs"] for row in rows)}


def main(argv):
    del argv  # Checked by cli.parse_flags_without_tensorflow.
    with tempfile.TemporaryDirectory() as root:
        data_dir = FLAGS.data_dir or str(pathlib.Path(root) / "tfds")
        rows = run_trials(FLAGS.kill_models, trials=FLAGS.kill_trials,
                          kills=FLAGS.kills, seed=FLAGS.kill_seed,
                          data_dir=data_dir, root=root)
    from tfgen import results

    document = {"benchmark": "kill_resume", **results.provenance(),
                "cases": {name: dataclasses.asdict(CASES[name])
                          for name in FLAGS.kill_models},
                "summary": summary(rows), "rows": rows}
    print(json.dumps(document))
    print(json.dumps(document["summary"]))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_without_tensorflow)
