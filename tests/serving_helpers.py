"""Runs exported SavedModels the way a server does: in a fresh process.

A SavedModel is only servable if it runs without this project's code. Each
helper here starts a new Python interpreter whose import system refuses the
project's top-level packages (``tfgen``, ``zoo``, ``export``), whose working
folder is a temporary one and whose environment has no ``PYTHONPATH``; it
loads the SavedModel with the TF1 session loader, the loader TensorFlow
Serving uses (``saved_model_cli run`` uses it too).

Each fresh process pays for a TensorFlow import (seconds), so a suite that
checks many signatures sends them all through ``run_all_signatures_fresh``,
and one that checks many SavedModels keeps one ``FreshServer``: a fresh
interpreter that runs each SavedModel's signatures, ``saved_model_cli run``
and ``saved_model_cli scan`` in turn, importing TensorFlow once.
"""

import json
import os
import pathlib
import select
import subprocess
import sys
import tempfile
import time

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

# Functions of a fresh process: each takes a job, a dict read from JSON
# with "saved_model_dir" and "outdir" (where results are written) and the
# request files.
_SERVING_FUNCTIONS = """
import contextlib
import io
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow.python.tools import saved_model_cli


def run_signatures(job):
    # job["requests"]: {signature: {input name: .npy path}}; writes each
    # output as a .npy file and their names in outdir/index.json.
    graph = tf.Graph()
    index = {}
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(
            session, ["serve"], job["saved_model_dir"])
        for signature_number, (signature, inputs) in enumerate(
                job["requests"].items()):
            if signature not in meta_graph.signature_def:
                raise KeyError(f"no signature {signature!r}; the SavedModel "
                               f"has {sorted(meta_graph.signature_def)}")
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


def saved_model_cli_main(*arguments):
    # saved_model_cli's own main, as its command line runs it; absl's
    # app.run ends it with SystemExit, and parses its flags anew each time.
    sys.argv = ["saved_model_cli", *arguments]
    try:
        saved_model_cli.main()
    except SystemExit as exit_status:
        if exit_status.code not in (None, 0):
            raise RuntimeError(f"saved_model_cli {arguments[0]} exited with "
                               f"status {exit_status.code}") from None


def run_and_scan(job):
    # saved_model_cli run of job["cli"]["signature"] (outputs in outdir/cli)
    # and saved_model_cli scan (its report in outdir/scan.txt).
    cli = job["cli"]
    saved_model_cli_main(
        "run", "--dir", job["saved_model_dir"], "--tag_set", "serve",
        "--signature_def", cli["signature"],
        "--inputs", ";".join(f"{name}={path}"
                             for name, path in cli["inputs"].items()),
        "--outdir", os.path.join(job["outdir"], "cli"))
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        saved_model_cli_main("scan", "--dir", job["saved_model_dir"])
    with open(os.path.join(job["outdir"], "scan.txt"), "w",
              encoding="utf-8") as scan_file:
        scan_file.write(report.getvalue())


def load_job(path):
    with open(path, encoding="utf-8") as job_file:
        return json.load(job_file)
"""

_RUN_ALL_SIGNATURES = _SERVING_FUNCTIONS + """
run_signatures(load_job(sys.argv[1]))
"""

# A server's loop: one job file path per line of stdin; after each job one
# line "<sentinel> ok" or "<sentinel> error" on stdout (a failed job's
# traceback in outdir/error.txt). Whatever else a job prints is held back.
_JOB_DONE = "fresh-server-job-done"
_SERVER_LOOP = _SERVING_FUNCTIONS + f"""
import traceback

for line in sys.stdin:
    job = load_job(line.strip())
    status = "ok"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            run_signatures(job)
            run_and_scan(job)
    except Exception:
        status = "error"
        with open(os.path.join(job["outdir"], "error.txt"), "w",
                  encoding="utf-8") as error_file:
            error_file.write(traceback.format_exc())
    print("{_JOB_DONE}", status, flush=True)
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


class FreshServer:
    """One fresh interpreter that checks SavedModels one after the other.

    The interpreter is guarded as ``run_fresh_python``'s (it cannot import
    the project) and imports TensorFlow once. For each SavedModel it runs
    the requests through the TF1 session loader (as
    ``run_all_signatures_fresh``), one signature through ``saved_model_cli
    run`` (as ``run_saved_model_cli``) and ``saved_model_cli scan`` (as
    ``scan_for_denylisted_ops``). Use it as a context manager.

    Args:
        timeout_s: seconds one SavedModel's checks may take.
    """

    def __init__(self, timeout_s=300):
        self._timeout_s = timeout_s
        self._work_dir = tempfile.TemporaryDirectory(prefix="fresh-server-")
        work_dir = pathlib.Path(self._work_dir.name)
        self._jobs = 0
        # A file, not a pipe: a chatty stderr never blocks the server.
        self._stderr = open(work_dir / "stderr.txt", "w+", encoding="utf-8")
        environment = {name: value for name, value in os.environ.items()
                       if name != "PYTHONPATH"}
        environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self._process = subprocess.Popen(
            [sys.executable, "-c", _IMPORT_GUARD + _SERVER_LOOP],
            cwd=work_dir, env=environment, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Ends the interpreter and removes its files."""
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process.stdout.close()
        self._stderr.close()
        self._work_dir.cleanup()

    def _stderr_text(self):
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def _wait_for_job(self, what):
        deadline = time.monotonic() + self._timeout_s
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._process.stdout], [], [],
                                        max(remaining, 0))
            if not ready:
                self._process.kill()
                raise FreshProcessError(f"{what} (timed out)", None,
                                        self._stderr_text())
            line = self._process.stdout.readline()
            if not line:
                raise FreshProcessError(what, self._process.wait(),
                                        self._stderr_text())
            if line.startswith(_JOB_DONE):
                return line.split()[-1]

    def check(self, saved_model_dir, requests, cli_signature, cli_inputs):
        """Runs one SavedModel's fresh-process checks.

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
            FreshProcessError: a check failed (the job's traceback is in the
                message), or the interpreter died or timed out.
        """
        self._jobs += 1
        job_dir = pathlib.Path(self._work_dir.name) / f"job{self._jobs}"
        outdir = job_dir / "outputs"
        outdir.mkdir(parents=True)
        job = {
            "saved_model_dir": os.path.abspath(saved_model_dir),
            "outdir": str(outdir),
            "requests": {
                signature: _save_inputs(inputs, job_dir, f"request{number}_")
                for number, (signature, inputs) in enumerate(requests.items())},
            "cli": {"signature": cli_signature,
                    "inputs": _save_inputs(cli_inputs, job_dir, "cli_")},
        }
        job_path = job_dir / "job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        what = f"fresh checks of {saved_model_dir}"
        try:
            self._process.stdin.write(f"{job_path}\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            raise FreshProcessError(what, self._process.wait(),
                                    self._stderr_text()) from None
        if self._wait_for_job(what) != "ok":
            raise FreshProcessError(
                what, 1, (outdir / "error.txt").read_text(encoding="utf-8"))
        index = json.loads((outdir / "index.json").read_text(encoding="utf-8"))
        served = {signature: {name: np.load(outdir / file_name)
                              for name, file_name in outputs.items()}
                  for signature, outputs in index.items()}
        cli_outputs = {path.stem: np.load(path)
                       for path in (outdir / "cli").glob("*.npy")}
        scan_report = (outdir / "scan.txt").read_text(encoding="utf-8")
        return served, cli_outputs, scan_report


def assert_served_as_in_memory(model, served, requests, name, *, rtol, atol):
    """Every served output equals what the model in memory returns.

    Args:
        model: the exported model, in memory.
        served: ``FreshServer.check``'s served outputs.
        requests: the requests served, ``{capability: {input: array}}``.
        name: the model's name, for the failure message.
        rtol, atol: the tolerances of ``np.testing.assert_allclose``.
    """
    import tensorflow as tf  # The fresh processes never import this module.

    for capability, request in requests.items():
        expected = getattr(model, capability)(
            **{key: tf.constant(value) for key, value in request.items()})
        for key, value in expected.items():
            np.testing.assert_allclose(
                served[capability][key], value, rtol=rtol, atol=atol,
                err_msg=f"{name}.{capability}[{key}]")
