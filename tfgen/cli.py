"""What every command line of the project shares: flags, errors, stderr.

``parse_flags`` is the absl flag parser of ``tfgen.train``,
``tfgen.evaluate`` and the benchmarks' commands: a bad flag is one line on
stderr and exit status 2, and ``--config.NAME=VALUE`` arguments are kept in
``CONFIG_OVERRIDES`` for the command to apply to its model's config.
``native_stderr_held`` keeps TensorFlow's start-up chatter from burying that
line.
"""

import contextlib
import os
import sys
import tempfile

from absl import flags

from tfgen import errors

# The --config.NAME=VALUE arguments of this run, filled by parse_flags.
CONFIG_OVERRIDES = {}


def define_shared_flag(define, name, default, help_text, **kwargs):
    """Defines an absl flag that another entry point may define too.

    ``tfgen.train``, ``tfgen.evaluate`` and ``tfgen.latent`` each take
    ``--workdir``, ``--data_dir`` and ``--manual_dir``. A process that
    imports two of them (the tests, a benchmark that restores a workdir,
    ``tfgen.latent``, which reuses ``tfgen.evaluate``) keeps the first
    definition instead of failing on the second; both must be of one type.

    Args:
        define: an absl ``flags.DEFINE_*`` function.
        name, default, help_text, **kwargs: its arguments.

    Raises:
        ValueError: the flag exists with another type.
    """
    if name not in flags.FLAGS:
        define(name, default, help_text, **kwargs)
        return
    scratch = flags.FlagValues()
    define(name, default, help_text, flag_values=scratch, **kwargs)
    if scratch[name].flag_type() != flags.FLAGS[name].flag_type():
        raise ValueError(
            f"--{name} is defined as a {flags.FLAGS[name].flag_type()} flag "
            f"and again as a {scratch[name].flag_type()} one")


def define_results_flags():
    """Defines ``--results`` and ``--from_output``, the flags of every
    benchmark that writes a ``tfgen.results`` file (``define_shared_flag``:
    a test session imports several benchmarks, each calling this)."""
    define_shared_flag(
        flags.DEFINE_string, "results", None,
        "Writes the README's tables as a results file (tfgen.results) here: "
        "the tables, and the run's JSON document as their raw, with its "
        "command, commit, cores and date.")
    define_shared_flag(
        flags.DEFINE_string, "from_output", None,
        "Measures nothing: reads the JSON document of an earlier run (its "
        "saved output), prints its tables and writes --results with that "
        "run's provenance.")


def results_document(benchmark, measure, required=("rows",)):
    """A benchmark's JSON document: measured, or read from --from_output.

    The flags of ``define_results_flags``: a ``--results`` that is a folder,
    or a ``--from_output`` file without ``benchmark``'s document, ends the
    process with one line and status 2, before anything is measured.

    Args:
        benchmark: the name its document gives under ``"benchmark"``.
        measure: called with no argument to measure; returns the document.
        required: fields the read document must have.
    """
    from tfgen import results

    if flags.FLAGS.results and os.path.isdir(flags.FLAGS.results):
        fail(f"--results={flags.FLAGS.results} is a folder; name the file", 2)
    if not flags.FLAGS.from_output:
        return measure()
    try:
        return results.read_output(flags.FLAGS.from_output, benchmark,
                                   required=required)
    except results.ResultsError as error:
        fail(f"--from_output={error}", 2)


def write_results_flag(tables, document):
    """Writes ``--results`` (if given): ``tables``, built from the
    benchmark's ``document``, with the provenance the document carries."""
    from tfgen import results

    if flags.FLAGS.results:
        results.write_measured(flags.FLAGS.results, tables, document)


def publish_results(benchmark, measure, tables_of, failures=None):
    """A results benchmark's ``main``: measures (or reads ``--from_output``),
    writes ``--results``, prints the document as one JSON line and then
    its tables; exits with status 1 after naming each failure.

    Args:
        benchmark, measure: as ``results_document`` takes them.
        tables_of: the document -> its tables, ``{name: results.Table}``.
        failures: the document -> lines naming what failed (none if None).
    """
    import json

    from tfgen import results

    document = results_document(benchmark, measure)
    tables = tables_of(document)
    write_results_flag(tables, document)
    print(json.dumps(document))
    for table in tables.values():
        print()
        print(results.render_table(table))
    problems = failures(document) if failures else []
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)


def refuse_config_overrides(command, reason):
    """Raises ``UsageError`` if the command line gave ``--config.*``
    overrides, which ``command`` takes none of (``reason`` says why)."""
    if CONFIG_OVERRIDES:
        raise errors.UsageError(
            f"{command} takes no --config overrides: {reason}")


def fail(message, status):
    """Prints ``error: message`` on stderr and exits with ``status``.

    The message is one line, whatever it quotes: a line break in it (a
    flag's value may hold one, which absl's error repeats) is escaped.
    """
    print(f"error: {_one_line(message)}", file=sys.stderr)
    sys.exit(status)


def _one_line(message):
    """``message`` with each character that breaks a line escaped."""
    return "".join(repr(char)[1:-1] if len(f"{char}.".splitlines()) > 1
                   else char for char in str(message))


def parse_flags(argv):
    """absl flag parsing that reports a bad flag in one line, exit status 2.

    The ``--config.NAME=VALUE`` arguments are kept in ``CONFIG_OVERRIDES``.
    """
    # tfgen.config imports Keras (its optimizers), and with it TensorFlow,
    # whose start-up lines would bury a bad flag's one line; Keras also
    # has absl query the GPUs once the flags are parsed, which logs a
    # failed CUDA start on machines without one: done here, held, it is
    # not done again.
    with native_stderr_held():
        from tfgen import config as config_lib
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")

    try:
        rest, overrides = config_lib.split_override_args(argv)
        remaining = flags.FLAGS(rest)
    except (flags.Error, errors.UsageError) as error:
        fail(str(error), 2)
    if len(remaining) > 1:
        fail(f"unexpected arguments: {' '.join(remaining[1:])}", 2)
    CONFIG_OVERRIDES.update(overrides)
    return remaining


def parse_flags_without_tensorflow(argv):
    """absl flag parsing for a command that must answer before TensorFlow
    loads (a benchmark reading saved output, say): a bad flag or a stray
    argument is reported in one line, exit status 2. It takes no
    ``--config`` overrides (``parse_flags`` does).
    """
    try:
        remaining = flags.FLAGS(argv)
    except flags.Error as error:
        fail(str(error), 2)
    if len(remaining) > 1:
        fail(f"unexpected arguments: {' '.join(remaining[1:])}", 2)
    return remaining


@contextlib.contextmanager
def native_stderr_held():
    """Holds back what native code writes to stderr while TensorFlow starts.

    TensorFlow's C++ start-up writes informational lines straight to file
    descriptor 2, which would bury the one-line error of a bad request. They
    are kept in a temporary file, dropped on success and on a usage error,
    and replayed if anything else goes wrong, so nothing useful is lost.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except (errors.UsageError, SystemExit):
            raise
        except BaseException:
            sys.stderr.flush()
            held.seek(0)
            os.write(saved, held.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
