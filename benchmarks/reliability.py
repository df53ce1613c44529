"""The README's reliability counts: fuzzed requests, kill trials, faults.

One command runs the three measurements of fault tolerance and counts
what happened:

* ``benchmarks.signature_fuzz``: Hypothesis's requests to every signature
  of every registered model, each served or rejected naming its input;
* ``benchmarks.kill_resume``: training runs killed with SIGKILL at random
  moments, each started again until it ends, compared with an
  uninterrupted run;
* ``benchmarks.faults``: checkpoints and exports damaged on disk, and
  checkpoint and export writes that fail as on a full disk.

From the repository root (about 25 minutes on 2 cores with the defaults):

    python -m benchmarks.reliability --results=results/reliability.json

Each measurement's flags are its module's (``--fuzz_examples``,
``--kill_trials``, ``--kills``, ``--fault_trials``, ...). Prints one JSON
document and the tables; ``--results=PATH`` writes them as a
``tfgen.results`` file, ``--from_output=FILE`` reads the document an
earlier run printed. A request, trial or fault that ends any other way
than the guarantees say is listed in the document and makes the command
exit with status 1; bad flags exit with status 2.
"""

import dataclasses
import json
import pathlib
import sys
import tempfile

from absl import app
from absl import flags
from absl import logging

# Run as a script, the repository root is not on the path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks import faults  # noqa: E402
from benchmarks import kill_resume  # noqa: E402
from benchmarks import signature_fuzz  # noqa: E402
from tfgen import cli  # noqa: E402
from tfgen import results  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_list("fault_models", ["vae", "rbm", "pixelcnn", "dcgan"],
                  "Registered models whose files benchmarks.faults damages.")
cli.define_results_flags()


def fuzz_rows():
    """Every registered model's fuzzing counts (or its failure)."""
    from tfgen import registry
    import zoo  # noqa: F401

    rows = []
    for name in FLAGS.fuzz_models or registry.names():
        try:
            counts = dataclasses.asdict(signature_fuzz.fuzz_model(
                name, max_examples=FLAGS.fuzz_examples, seed=FLAGS.fuzz_seed))
            counts["failure"] = None
        except signature_fuzz.SignatureFuzzError as error:
            counts = {"model": name, "tried": None, "served": None,
                      "rejected": None, "by_fault": {},
                      "failure": str(error)[:2000]}
        print(json.dumps({key: counts[key] for key in
                          ("model", "tried", "served", "rejected")}),
              file=sys.stderr, flush=True)  # Progress.
        rows.append(counts)
    return rows


def fault_rows():
    """``benchmarks.faults``'s counts for each of ``--fault_models``."""
    rows = []
    for name in FLAGS.fault_models:
        counts, failures = faults.run_trials(
            name, trials=FLAGS.fault_trials, seed=FLAGS.fault_seed)
        print(json.dumps({"model": name, "counts": counts}), file=sys.stderr,
              flush=True)  # Progress.
        rows.append({"model": name, "counts": counts, "failures": failures})
    return rows


def measure():
    """All three measurements; returns the JSON document."""
    fuzzed = fuzz_rows()
    damaged = fault_rows()
    with tempfile.TemporaryDirectory() as root:
        data_dir = FLAGS.data_dir or str(pathlib.Path(root) / "tfds")
        killed = kill_resume.run_trials(
            FLAGS.kill_models, trials=FLAGS.kill_trials, kills=FLAGS.kills,
            seed=FLAGS.kill_seed, data_dir=data_dir, root=root)
    return {"benchmark": "reliability", **results.provenance(),
            "fuzz_examples": FLAGS.fuzz_examples,
            "kill_cases": {name: dataclasses.asdict(kill_resume.CASES[name])
                           for name in FLAGS.kill_models},
            "fault_trials": FLAGS.fault_trials,
            "rows": {"signature_fuzz": fuzzed, "faults": damaged,
                     "kill_resume": killed},
            "kill_summary": kill_resume.summary(killed)}


def _outcomes(counts):
    return ", ".join(f"{outcome} {number}"
                     for outcome, number in sorted(counts.items()))


def summary_records(document):
    """One record per guarantee: what was tried and how it ended."""
    rows = document["rows"]
    fuzzed = rows["signature_fuzz"]
    good = [row for row in fuzzed if row["failure"] is None]
    records = [{
        "check": "requests to exported signatures (fuzzed)",
        "tried": sum(row["tried"] for row in good),
        "outcomes": (f"served {sum(row['served'] for row in good)}, "
                     f"rejected naming the input "
                     f"{sum(row['rejected'] for row in good)}"),
        "failed": len(fuzzed) - len(good),
        "scope": f"{len(fuzzed)} models, every signature"}]
    kills = document["kill_summary"]
    records.append({
        "check": "training runs killed with SIGKILL, started again",
        "tried": kills["trials"],
        "outcomes": (f"{kills['kills_landed']} kills; ended as the "
                     f"uninterrupted run {kills['survived']} "
                     f"({kills['survived_bit_for_bit']} bit for bit); "
                     f"epochs lost beyond the last checkpoint "
                     f"{kills['lost_epochs']}"),
        "failed": kills["trials"] - kills["survived"],
        "scope": ", ".join(sorted(document["kill_cases"]))})
    by_kind = {}
    for row in rows["faults"]:
        for kind, counts in row["counts"].items():
            merged = by_kind.setdefault(kind, {})
            for outcome, number in counts.items():
                merged[outcome] = merged.get(outcome, 0) + number
    for kind, counts in by_kind.items():
        records.append({
            "check": kind.replace("_", " "),
            "tried": sum(counts.values()),
            "outcomes": _outcomes({outcome: number for outcome, number in
                                   counts.items() if outcome != "failed"}),
            "failed": counts.get("failed", 0),
            "scope": ", ".join(row["model"] for row in rows["faults"])})
    return records


def results_tables(document):
    """The README's tables."""
    fuzzed = [row for row in document["rows"]["signature_fuzz"]
              if row["failure"] is None]
    return {
        "reliability": results.records_table(
            summary_records(document),
            {"check": "check", "tried": "tried", "outcomes": "outcomes",
             "failed": "failed", "models": "scope"},
            formats={"tried": ",d", "failed": "d"},
            notes=(f"{document['fuzz_examples']} fuzzed requests per model, "
                   f"{document['fault_trials']} trials of each fault per "
                   "model; each kill trial kills a run twice (just after a "
                   "checkpoint, then at a random moment).")),
        "signature_fuzz": results.records_table(
            fuzzed,
            {"model": "model", "tried": "tried", "served": "served",
             "rejected": "rejected"},
            formats={"tried": "d", "served": "d", "rejected": "d"}),
    }


def failures(document):
    """Everything that did not end as the guarantees say."""
    rows = document["rows"]
    found = [f"signature_fuzz {row['model']}: {row['failure']}"
             for row in rows["signature_fuzz"] if row["failure"]]
    found += [f"faults {row['model']} {failure['kind']}: {failure['detail']}"
              for row in rows["faults"] for failure in row["failures"]]
    found += [f"kill_resume {row['model']}: {json.dumps(row)[:2000]}"
              for row in rows["kill_resume"] if not row["survived"]]
    return found


def main(argv):
    del argv  # Checked by cli.parse_flags_without_tensorflow.
    # TensorFlow's Python side logs each saved function at INFO level.
    logging.set_verbosity(logging.WARNING)
    cli.publish_results("reliability", measure, results_tables, failures)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags_without_tensorflow)
