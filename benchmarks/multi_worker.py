"""Multi-worker training against one device, one model of each family.

For each case, two ``python -m tfgen.train --strategy=multi_worker``
processes on localhost (``TF_CONFIG``: one worker each, the CPU of each)
train the model's tiny config with ``--deterministic``; one process trains
the same command under the default strategy. The chief's final checkpoint
is compared with the single process's: the largest difference of the
model's parameters and of the optimizers' state, relative to 1 + |value|,
and whether every integer (steps, epochs, chain indices) is equal.

From the repository root (about 3 minutes on 2 cores):

    python -m benchmarks.multi_worker --results=results/multi_worker.json

prints one JSON document and the table; ``--results=PATH`` writes it as a
``tfgen.results`` file. A pair or a single run that fails is listed and
makes the command exit with status 1; bad flags exit with status 2. The
helpers that start a cluster of ``tfgen.train`` processes serve
``tests/tfgen/test_multi_worker.py`` too.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

# Run as a script, the repository root is not on the path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks import kill_resume  # noqa: E402
from tfgen import cli  # noqa: E402

FLAGS = flags.FLAGS

ROOT = pathlib.Path(__file__).resolve().parents[1]

# One model of each family: noise in every step, an autoregressive model,
# persistent chains, a staged model, a GAN with batch norm over the global
# batch.
CASES = {
    "vae": kill_resume.Case("vae", 1),
    "pixelcnn": kill_resume.Case("pixelcnn", 1),
    "rbm": kill_resume.Case("rbm", 1, (("training", "pcd"),)),
    "dbn": kill_resume.Case("dbn", 1),
    "dcgan": kill_resume.Case("dcgan", 1),
}

flags.DEFINE_list("worker_models", list(CASES), f"Cases, of {list(CASES)}.")
flags.register_validator(
    "worker_models",
    lambda names: bool(names) and all(n in CASES for n in names),
    message=f"--worker_models: expected names of {list(CASES)}")
cli.define_shared_flag(flags.DEFINE_string, "data_dir", None,
                       "TFDS folder of prepared datasets (a temporary one if "
                       "unset).")
cli.define_results_flags()

TIMEOUT = 600  # seconds a process may run


def free_port():
    """A TCP port of localhost that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def start_workers(argv, *, num_workers=2, other_flags=(), chief_job=False):
    """Starts ``argv`` (a ``tfgen.train`` command line) in ``num_workers``
    processes, each with the ``TF_CONFIG`` of one task of a localhost
    cluster: ``worker`` 0, 1, ..., or with ``chief_job`` the ``chief`` and
    then ``worker`` 0, 1, ...; ``other_flags`` go to every task but the
    chief (the first).

    Returns:
        The ``subprocess.Popen`` of each task, the chief first.
    """
    addresses = [f"localhost:{free_port()}" for _ in range(num_workers)]
    if chief_job:
        cluster = {"chief": addresses[:1], "worker": addresses[1:]}
        tasks = [("chief", 0)] + [("worker", index)
                                  for index in range(num_workers - 1)]
    else:
        cluster = {"worker": addresses}
        tasks = [("worker", index) for index in range(num_workers)]
    processes = []
    for number, (task_type, index) in enumerate(tasks):
        env = kill_resume.environment()
        env["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": task_type, "index": index}})
        processes.append(subprocess.Popen(
            [*argv, "--strategy=multi_worker",
             *(other_flags if number else ())],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=ROOT))
    return processes


def finish(processes, timeout=TIMEOUT):
    """``[(returncode, stdout, stderr)]`` once every process has ended;
    any still running after ``timeout`` seconds is killed (and raises)."""
    ended = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            ended.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return ended


def differences(expected, found):
    """How the state ``found`` differs from ``expected`` (both from
    ``kill_resume.final_state``).

    Returns:
        ``{"parameters": ..., "optimizer": ..., "integers_equal": ...}``:
        the largest difference of the float tensors of the model's and of
        the optimizers' groups, relative to 1 + |expected|, and whether
        every other tensor is equal.
    """
    if set(expected) != set(found):
        raise ValueError("the checkpoints hold other tensors: "
                         f"{sorted(set(expected) ^ set(found))[:5]}")
    largest = {"parameters": 0.0, "optimizer": 0.0}
    integers_equal = True
    for name in expected:
        one = np.asarray(expected[name])
        other = np.asarray(found[name])
        if one.shape != other.shape:
            raise ValueError(f"{name}: shape {one.shape} against "
                             f"{other.shape}")
        if one.dtype.kind != "f":
            integers_equal &= bool(np.array_equal(one, other))
            continue
        if not one.size:
            continue
        group = "optimizer" if name.startswith("optimizer") else "parameters"
        relative = np.abs(one.astype(np.float64) - other) / (1.0 + np.abs(one))
        largest[group] = max(largest[group], float(np.max(relative)))
    return {**largest, "integers_equal": integers_equal}


def compare(name, *, data_dir, root):
    """Trains case ``name`` on a pair and alone; returns the row."""
    from tfgen import registry
    import zoo  # noqa: F401

    case = CASES[name]
    row = {"model": name, "family": registry.get(name).family,
           "flags": [f"--config.{key}={value}"
                     for key, value in case.overrides]}
    pair, alone = (pathlib.Path(root) / name / part
                   for part in ("pair", "alone"))
    start = time.time()
    ended = finish(start_workers(case.argv(pair, data_dir)))
    row["pair_seconds"] = round(time.time() - start, 1)
    start = time.time()
    single = subprocess.run(case.argv(alone, data_dir), capture_output=True,
                            text=True, timeout=TIMEOUT, cwd=ROOT,
                            env=kill_resume.environment())
    row["alone_seconds"] = round(time.time() - start, 1)
    failed = [f"worker {index}: {err.strip()[-1500:]}"
              for index, (code, _, err) in enumerate(ended) if code]
    if single.returncode:
        failed.append(f"one device: {single.stderr.strip()[-1500:]}")
    row["failure"] = "; ".join(failed) or None
    if row["failure"] is None:
        row.update(differences(kill_resume.final_state(alone),
                               kill_resume.final_state(pair)))
    return row


def measure():
    from tfgen import results

    rows = []
    with tempfile.TemporaryDirectory() as root:
        data_dir = FLAGS.data_dir or os.path.join(root, "tfds")
        for name in FLAGS.worker_models:
            rows.append(compare(name, data_dir=data_dir, root=root))
            print(json.dumps(rows[-1])[:300], file=sys.stderr, flush=True)
    return {"benchmark": "multi_worker", **results.provenance(),
            "workers": 2, "rows": rows}


def results_tables(document):
    """The README's table."""
    from tfgen import results

    good = [row for row in document["rows"] if row["failure"] is None]
    return {"multi_worker": results.records_table(
        good,
        {"model": "model", "family": "family",
         "flags": lambda row: " ".join(row["flags"]) or None,
         "largest difference, parameters": "parameters",
         "largest difference, optimizer state": "optimizer",
         "integers equal": "integers_equal",
         "2 workers, s": "pair_seconds", "1 device, s": "alone_seconds"},
        formats={"largest difference, parameters": ".1e",
                 "largest difference, optimizer state": ".1e",
                 "2 workers, s": ".0f", "1 device, s": ".0f"},
        notes=(f"{document['workers']} worker processes on one machine "
               "(localhost, the CPU of each) against one process, tiny "
               "configs, one epoch, --deterministic; differences relative "
               "to 1 + |value|."))}


def failures(document):
    """Lines naming each case that did not train."""
    return [f"{row['model']}: {row['failure']}" for row in document["rows"]
            if row["failure"]]


def main(argv):
    del argv  # Checked by cli.parse_flags_without_tensorflow.
    logging.set_verbosity(logging.WARNING)
    cli.publish_results("multi_worker", measure, results_tables, failures)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_without_tensorflow)
