"""Runs exported SavedModels the way a server does: in a fresh process.

A SavedModel is only servable if it runs without this project's code. Each
helper here starts a new Python interpreter whose import system refuses the
project's top-level packages (``tfgen``, ``zoo``, ``export``), whose working
folder is a temporary one and whose environment has no ``PYTHONPATH``; it
loads the SavedModel with the TF1 session loader, the loader TensorFlow
Serving uses (``saved_model_cli run`` uses it too).

Each fresh process pays for a TensorFlow import (seconds), so a suite that
checks many signatures sends them all through ``run_all_signatures_fresh``,
and one that also runs ``saved_model_cli run`` and ``scan`` does all three
in one process with ``serve_run_and_scan_fresh``.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

BLOCKED_PACKAGES = ("tfgen", "zoo", "export")

# Installed first in every fresh process: any import of the project fails.
_IMPORT_GUARD = f"""
import importlib.abc
import sys

class _RefuseProject(importlib.abc.MetaPathFinder):
    blocked = {BLOCKED_PACKAGES!r}

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(
                f"import of {{name!r}} refused: a served SavedModel must run "
                f"without the project's code")
        return None

sys.meta_path.insert(0, _RefuseProject())
"""

_SAVED_MODEL_CLI = """
from tensorflow.python.tools import saved_model_cli
sys.argv[0] = "saved_model_cli"
sys.exit(saved_model_cli.main())
"""

_RUN_ALL_SIGNATURES = """
import json
import os

import numpy as np
import tensorflow as tf

with open(sys.argv[1], encoding="utf-8") as request_file:
    job = json.load(request_file)
graph = tf.Graph()
index = {}
with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
    meta_graph = tf.compat.v1.saved_model.loader.load(
        session, ["serve"], job["saved_model_dir"])
    for signature_number, (signature, inputs) in enumerate(
            job["requests"].items()):
        if signature not in meta_graph.signature_def:
            raise KeyError(f"no signature {signature!r}; the SavedModel has "
                           f"{sorted(meta_graph.signature_def)}")
        signature_def = meta_graph.signature_def[signature]
        if set(inputs) != set(signature_def.inputs):
            raise KeyError(f"signature {signature!r} takes inputs "
                           f"{sorted(signature_def.inputs)}, the request "
                           f"gives {sorted(inputs)}")
        feed = {signature_def.inputs[name].name: np.load(path)
                for name, path in inputs.items()}
        fetches = {name: info.name
                   for name, info in signature_def.outputs.items()}
        results = session.run(fetches, feed_dict=feed)
        index[signature] = {}
        for output_number, (name, value) in enumerate(results.items()):
            file_name = f"{signature_number}_{output_number}.npy"
            np.save(os.path.join(job["outdir"], file_name), value)
            index[signature][name] = file_name
with open(os.path.join(job["outdir"], "index.json"), "w",
          encoding="utf-8") as index_file:
    json.dump(index, index_file)
"""

# Appended to _RUN_ALL_SIGNATURES: saved_model_cli's own main, as its command
# line runs it, for "run" (writing into outdir/cli) and then "scan". absl's
# app.run ends each with SystemExit; its flags parse again for the second.
_SAVED_MODEL_CLI_RUN_AND_SCAN = """
import contextlib
import io

from tensorflow.python.tools import saved_model_cli


def _saved_model_cli(*arguments):
    sys.argv = ["saved_model_cli", *arguments]
    try:
        saved_model_cli.main()
    except SystemExit as exit_status:
        if exit_status.code not in (None, 0):
            raise RuntimeError(
                f"saved_model_cli {arguments[0]} exited with status "
                f"{exit_status.code}") from None


cli = job["cli"]
_saved_model_cli(
    "run", "--dir", job["saved_model_dir"], "--tag_set", "serve",
    "--signature_def", cli["signature"],
    "--inputs", ";".join(f"{name}={path}"
                         for name, path in cli["inputs"].items()),
    "--outdir", os.path.join(job["outdir"], "cli"))
report = io.StringIO()
with contextlib.redirect_stdout(report):
    _saved_model_cli("scan", "--dir", job["saved_model_dir"])
with open(os.path.join(job["outdir"], "scan.txt"), "w",
          encoding="utf-8") as scan_file:
    scan_file.write(report.getvalue())
"""


class FreshProcessError(RuntimeError):
    """A fresh process serving a SavedModel exited with an error.

    Attributes:
        returncode: the process's exit status.
        stderr: its standard error, whole.
    """

    def __init__(self, what, returncode, stderr, tail_chars=6000):
        super().__init__(f"{what} failed with exit status {returncode}; "
                         f"stderr ends with:\n{stderr[-tail_chars:]}")
        self.returncode = returncode
        self.stderr = stderr


def run_fresh_python(code, args, work_dir, what, timeout_s=300):
    """Runs ``code`` in a new interpreter that cannot import the project.

    Args:
        code: Python source, run after the import guard.
        args: command-line arguments (``sys.argv[1:]`` of the process).
        work_dir: its working folder.
        what: the process's description, for errors.
        timeout_s: seconds before the process is killed.

    Returns:
        The process's standard output.

    Raises:
        FreshProcessError: the process exited with a non-zero status.
    """
    environment = {name: value for name, value in os.environ.items()
                   if name != "PYTHONPATH"}
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_GUARD + code, *map(str, args)],
        cwd=work_dir, env=environment, capture_output=True, text=True,
        timeout=timeout_s, check=False)
    if completed.returncode != 0:
        raise FreshProcessError(what, completed.returncode, completed.stderr)
    return completed.stdout


def _save_inputs(inputs, folder, prefix):
    paths = {}
    for number, (name, value) in enumerate(inputs.items()):
        path = pathlib.Path(folder) / f"{prefix}{number}.npy"
        np.save(path, np.asarray(value))
        paths[name] = str(path)
    return paths


def run_saved_model_cli(saved_model_dir, signature, inputs):
    """Runs one signature with ``saved_model_cli run`` in a fresh process.

    Args:
        saved_model_dir: the SavedModel's folder.
        signature: the signature's name.
        inputs: ``{input_name: np.ndarray}``.

    Returns:
        ``{output_name: np.ndarray}``.

    Raises:
        FreshProcessError: ``saved_model_cli`` failed (its stderr tail is in
            the message).
    """
    with tempfile.TemporaryDirectory(prefix="saved_model_cli-") as work_dir:
        paths = _save_inputs(inputs, work_dir, "input")
        outdir = pathlib.Path(work_dir) / "outputs"
        run_fresh_python(
            _SAVED_MODEL_CLI,
            ["run", "--dir", os.path.abspath(saved_model_dir),
             "--tag_set", "serve", "--signature_def", signature,
             "--inputs", ";".join(f"{name}={path}"
                                  for name, path in paths.items()),
             "--outdir", str(outdir)],
            work_dir, f"saved_model_cli run --signature_def {signature}")
        return {path.stem: np.load(path) for path in outdir.glob("*.npy")}


def run_all_signatures_fresh(saved_model_dir, requests):
    """Runs several signatures in one fresh process with the TF1 loader.

    Args:
        saved_model_dir: the SavedModel's folder.
        requests: ``{signature_name: {input_name: np.ndarray}}``.

    Returns:
        ``{signature_name: {output_name: np.ndarray}}``.

    Raises:
        FreshProcessError: loading or running a signature failed.
    """
    with tempfile.TemporaryDirectory(prefix="serve-fresh-") as work_dir:
        outdir = pathlib.Path(work_dir) / "outputs"
        outdir.mkdir()
        job = {
            "saved_model_dir": os.path.abspath(saved_model_dir),
            "outdir": str(outdir),
            "requests": {
                signature: _save_inputs(inputs, work_dir, f"request{number}_")
                for number, (signature, inputs) in enumerate(requests.items())},
        }
        job_path = pathlib.Path(work_dir) / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        run_fresh_python(_RUN_ALL_SIGNATURES, [job_path],
                         work_dir, "TF1 session loader")
        index = json.loads((outdir / "index.json").read_text(encoding="utf-8"))
        return {signature: {name: np.load(outdir / file_name)
                            for name, file_name in outputs.items()}
                for signature, outputs in index.items()}


def scan_for_denylisted_ops(saved_model_dir):
    """Runs ``saved_model_cli scan`` on a SavedModel in a fresh process.

    Args:
        saved_model_dir: the SavedModel's folder.

    Returns:
        What ``saved_model_cli scan`` printed.

    Raises:
        FreshProcessError: ``saved_model_cli scan`` failed.
    """
    with tempfile.TemporaryDirectory(prefix="saved_model_cli-") as work_dir:
        return run_fresh_python(
            _SAVED_MODEL_CLI,
            ["scan", "--dir", os.path.abspath(saved_model_dir)],
            work_dir, "saved_model_cli scan")


def serve_run_and_scan_fresh(saved_model_dir, requests, cli_signature,
                             cli_inputs):
    """All of a SavedModel's fresh-process checks in one fresh process.

    It runs ``requests`` through the TF1 session loader (as
    ``run_all_signatures_fresh``), then ``saved_model_cli run`` on one
    signature (as ``run_saved_model_cli``) and ``saved_model_cli scan`` (as
    ``scan_for_denylisted_ops``): one TensorFlow import instead of three.

    Args:
        saved_model_dir: the SavedModel's folder.
        requests: ``{signature_name: {input_name: np.ndarray}}``.
        cli_signature: the signature ``saved_model_cli run`` runs.
        cli_inputs: its ``{input_name: np.ndarray}``.

    Returns:
        ``(served, cli_outputs, scan_report)``: ``{signature_name:
        {output_name: np.ndarray}}``, ``{output_name: np.ndarray}`` and
        what ``saved_model_cli scan`` printed.

    Raises:
        FreshProcessError: loading, running or scanning failed.
    """
    with tempfile.TemporaryDirectory(prefix="serve-fresh-") as work_dir:
        outdir = pathlib.Path(work_dir) / "outputs"
        outdir.mkdir()
        job = {
            "saved_model_dir": os.path.abspath(saved_model_dir),
            "outdir": str(outdir),
            "requests": {
                signature: _save_inputs(inputs, work_dir, f"request{number}_")
                for number, (signature, inputs) in enumerate(requests.items())},
            "cli": {"signature": cli_signature,
                    "inputs": _save_inputs(cli_inputs, work_dir, "cli_")},
        }
        job_path = pathlib.Path(work_dir) / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        run_fresh_python(
            _RUN_ALL_SIGNATURES + _SAVED_MODEL_CLI_RUN_AND_SCAN, [job_path],
            work_dir, "TF1 session loader, saved_model_cli run and scan")
        index = json.loads((outdir / "index.json").read_text(encoding="utf-8"))
        served = {signature: {name: np.load(outdir / file_name)
                              for name, file_name in outputs.items()}
                  for signature, outputs in index.items()}
        cli_outputs = {path.stem: np.load(path)
                       for path in (outdir / "cli").glob("*.npy")}
        scan_report = (outdir / "scan.txt").read_text(encoding="utf-8")
        return served, cli_outputs, scan_report
