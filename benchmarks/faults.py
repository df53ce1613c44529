"""Fault injection: damaged checkpoints and exports, and writes on a full disk.

Every trial damages real files that TensorFlow wrote, or makes a real write
fail, and sorts the outcome:

* ``checkpoint_damage``: the newest of two checkpoints is truncated, has a
  byte flipped or a run of bytes zeroed, or loses a file; a fresh model
  restores. ``detected``: restore set it aside with a warning naming it and
  resumed from the one before, whose values the model then holds;
  ``harmless``: the damage changed nothing that is read (restore gives the
  newest, value for value); anything else is a failure.
* ``checkpoint_full_disk``: a checkpoint write capped at a random size
  (``RLIMIT_FSIZE``: the write fails as on a full disk). ``written``: it fit;
  ``refused``: ``CheckpointError`` said so, no temporary file is left and
  the previous checkpoint restores whole.
* ``export_full_disk``: ``export.publish`` under a random cap. ``written``,
  or ``refused``: ``ExportError``, no new version visible, the earlier
  ones read back whole, nothing left behind.
* ``export_damage``: a file of a published version truncated or removed;
  ``detected`` when ``checkpoints.saved_model_unreadable`` names it.

Run on a registered model's tiny config, built and not trained (the files
are what matter):

    python -m benchmarks.faults --fault_model=vae --fault_trials=20

prints one JSON document (the counts per kind and outcome, and every
failure) and exits 1 if any trial failed. Bad flags exit with status 2.
"""

import contextlib
import io
import json
import pathlib
import resource
import signal
import sys
import tempfile

from absl import app
from absl import flags
from absl import logging
import numpy as np

# Run as a script, the repository root is not on the path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tfgen import cli  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_string("fault_model", "vae",
                    "Registered model whose files to damage.")
flags.DEFINE_integer("fault_trials", 10, "Trials of each kind.",
                     lower_bound=1)
flags.DEFINE_integer("fault_seed", 0, "Seed of the damage.")

KINDS = ("checkpoint_damage", "checkpoint_full_disk", "export_full_disk",
         "export_damage")
DAMAGES = ("truncate", "flip_byte", "zero_run", "remove")


@contextlib.contextmanager
def file_size_cap(size):
    """Caps the files this process writes at ``size`` bytes meanwhile.

    A write past the cap fails with EFBIG, as one on a full disk fails with
    ENOSPC; SIGXFSZ, which would end the process, is ignored meanwhile.
    ``size=None`` lifts no cap and sets none.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        if size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (int(size), hard))
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def damage_file(path, how, rng):
    """Damages one file for real: ``how`` is one of ``DAMAGES``."""
    path = pathlib.Path(path)
    if how == "remove":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "truncate":
        del data[int(rng.integers(0, max(len(data), 1))):]
    elif how == "flip_byte" and data:
        data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
    elif how == "zero_run" and data:
        start = int(rng.integers(0, len(data)))
        length = int(rng.integers(1, 65))
        data[start:start + length] = bytes(len(data[start:start + length]))
    path.write_bytes(bytes(data))


class Subject:
    """A registered model's tiny config, built, with its variables' values."""

    def __init__(self, name, seed=0):
        from tfgen import registry
        from tfgen import training
        from tfgen.data import DataInfo
        import zoo  # noqa: F401

        self.name = name
        self.spec = registry.get(name)
        self.config = self.spec.get_config("tiny")
        self.info = DataInfo(
            name="mock", event_shape=(8, 8, 1), num_levels=17, num_classes=10,
            split_sizes={"train": 32, "validation": 8, "test": 8})
        self._build = lambda: training.build_model(self.spec, self.config,
                                                   self.info)
        self.model = self.fresh_model()
        self.rng = np.random.default_rng(seed)

    def fresh_model(self):
        model = self._build()
        model.build_for_training()
        return model

    def values(self, model=None):
        return [np.array(variable.numpy()) for variable in
                (model or self.model).variables]

    def perturb(self):
        """Moves every float variable, so two checkpoints differ."""
        for variable in self.model.variables:
            value = np.asarray(variable.numpy())
            if value.dtype.kind == "f":
                variable.assign(value + self.rng.normal(
                    size=value.shape).astype(value.dtype))


def _equal(first, second):
    return len(first) == len(second) and all(
        np.array_equal(a, b) for a, b in zip(first, second))


def _restore_fresh(subject, directory):
    """Restores into a fresh model; ``(epoch, values, stderr)``."""
    from tfgen import checkpoints

    model = subject.fresh_model()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        epoch = checkpoints.TrainingCheckpoint(model, directory).restore()
    return epoch, subject.values(model), stderr.getvalue()


def checkpoint_damage(subject, root, rng):
    """One damaged newest checkpoint; returns ``(outcome, detail)``."""
    from tfgen import checkpoints

    directory = pathlib.Path(root) / "checkpoints"
    checkpoint = checkpoints.TrainingCheckpoint(subject.model, directory)
    checkpoint.save(1)
    first = subject.values()
    subject.perturb()
    prefix = checkpoint.save(2)
    second = subject.values()
    files = sorted(pathlib.Path(directory).glob(pathlib.Path(prefix).name
                                                + ".*"))
    target = files[int(rng.integers(0, len(files)))]
    how = DAMAGES[int(rng.integers(0, len(DAMAGES)))]
    damage_file(target, how, rng)
    detail = f"{how} {target.name}"
    try:
        epoch, values, warnings = _restore_fresh(subject, directory)
    except Exception as error:  # A failure to sort, not to hide.
        return "failed", f"{detail}: {type(error).__name__}: {error}"
    if epoch == 1 and _equal(values, first) and prefix in warnings:
        return "detected", detail
    if epoch == 2 and _equal(values, second):
        return "harmless", detail
    return "failed", f"{detail}: restored epoch {epoch}, warnings {warnings!r}"


def checkpoint_full_disk(subject, root, rng):
    """A checkpoint written under a random size cap."""
    from tfgen import checkpoints

    directory = pathlib.Path(root) / "checkpoints"
    checkpoint = checkpoints.TrainingCheckpoint(subject.model, directory)
    prefix = checkpoint.save(1)
    first = subject.values()
    size = max(p.stat().st_size for p in directory.glob("ckpt-1.*"))
    cap = int(rng.integers(0, int(size * 1.5) + 2))
    subject.perturb()
    second = subject.values()
    try:
        with file_size_cap(cap):
            checkpoint.save(2)
        written = True
    except checkpoints.CheckpointError as error:
        written = False
        if prefix not in str(error):
            return "failed", f"cap {cap}: the error names no intact {prefix}"
    leftovers = sorted(p.name for p in directory.glob("*_temp*"))
    if leftovers:
        return "failed", f"cap {cap}: left {leftovers}"
    epoch, values, _ = _restore_fresh(subject, directory)
    if written and epoch == 2 and _equal(values, second):
        return "written", f"cap {cap}"
    if not written and epoch == 1 and _equal(values, first):
        return "refused", f"cap {cap}"
    return "failed", f"cap {cap}: written={written}, restored epoch {epoch}"


def _versions(model_dir):
    return sorted(p.name for p in pathlib.Path(model_dir).iterdir()
                  if p.name.isdigit()) if pathlib.Path(model_dir).is_dir() \
        else []


def export_full_disk(subject, root, rng):
    """A version published under a random size cap, after a good one."""
    import export
    from tfgen import checkpoints

    base = pathlib.Path(root) / "export"
    first = export.publish(subject.model, base, subject.name)
    size = sum(p.stat().st_size for p in first.rglob("*") if p.is_file())
    biggest = max(p.stat().st_size for p in first.rglob("*") if p.is_file())
    cap = int(rng.integers(0, int(biggest * 1.5) + 2))
    try:
        with file_size_cap(cap):
            export.publish(subject.model, base, subject.name)
        written = True
    except export.ExportError:
        written = False
    model_dir = base / subject.name
    names = sorted(p.name for p in model_dir.iterdir())
    versions = _versions(model_dir)
    unreadable = [reason for version in versions if (
        reason := checkpoints.saved_model_unreadable(model_dir / version))]
    detail = f"cap {cap} of {size} bytes"
    if unreadable:
        return "failed", f"{detail}: {unreadable}"
    if written and versions == ["1", "2"]:
        return "written", detail
    if not written and versions == ["1"] and names == ["1"]:
        return "refused", detail
    return "failed", f"{detail}: written={written}, left {names}"


def export_damage(subject, root, rng):
    """A file of a published version truncated or removed."""
    import export
    from tfgen import checkpoints

    version = export.publish(subject.model, pathlib.Path(root) / "export",
                             subject.name, warmup=False, models_config=False)
    files = sorted(p for p in version.rglob("*") if p.is_file()
                   and (p.name == "saved_model.pb"
                        or p.parent.name == "variables"))
    target = files[int(rng.integers(0, len(files)))]
    how = ("truncate", "remove")[int(rng.integers(0, 2))]
    damage_file(target, how, rng)
    detail = f"{how} {target.relative_to(version)}"
    reason = checkpoints.saved_model_unreadable(version)
    # A variables file is named by the variables' prefix.
    named = (str(target.parent / "variables") if target.parent.name ==
             "variables" else str(target))
    if reason is not None and named in reason:
        return "detected", detail
    return "failed", f"{detail}: {reason!r}"


TRIALS = {"checkpoint_damage": checkpoint_damage,
          "checkpoint_full_disk": checkpoint_full_disk,
          "export_full_disk": export_full_disk,
          "export_damage": export_damage}


def run_trials(name, *, trials, seed, kinds=KINDS):
    """``trials`` trials of each kind on model ``name``; returns the counts
    ``{kind: {outcome: n}}`` and the failures' details."""
    rng = np.random.default_rng(seed)
    subject = Subject(name, seed=seed)
    counts, failures = {}, []
    for kind in kinds:
        for _ in range(trials):
            with tempfile.TemporaryDirectory() as root:
                outcome, detail = TRIALS[kind](subject, root, rng)
            counts.setdefault(kind, {}).setdefault(outcome, 0)
            counts[kind][outcome] += 1
            if outcome == "failed":
                failures.append({"kind": kind, "detail": detail})
    return counts, failures


def main(argv):
    del argv  # Checked by cli.parse_flags.
    # TensorFlow's Python side logs each saved function at INFO level.
    logging.set_verbosity(logging.WARNING)
    from tfgen import registry
    from tfgen import results
    import zoo  # noqa: F401

    if FLAGS.fault_model not in registry.names():
        cli.fail(f"--fault_model={FLAGS.fault_model!r} is not registered", 2)
    counts, failures = run_trials(FLAGS.fault_model, trials=FLAGS.fault_trials,
                                  seed=FLAGS.fault_seed)
    print(json.dumps({"benchmark": "faults", **results.provenance(),
                      "model": FLAGS.fault_model, "trials": FLAGS.fault_trials,
                      "counts": counts, "failures": failures}))
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
