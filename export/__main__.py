"""Command line: publish a trained run again, without training.

    python -m export --workdir=runs/vae
    python -m export --workdir=runs/vae --export_base=/srv/models

Rebuilds the workdir's model from its ``config.json`` and ``run.json``,
restores the checkpoint training finished with (as ``tfgen.evaluate``
does) and publishes it as a new version under ``--export_base`` (default
``<workdir>/export``), as ``tfgen.train`` does at the end of training:
``<export_base>/<model>/<version>/`` with its warmup requests and export
record, written to a hidden folder and renamed into place, and
``<export_base>/models.config`` rewritten. The workdir is held as a run
holds it (one at a time). Prints the new version's path.

``--data_dir`` and ``--manual_dir`` say where the data are (default: the
folders training used). Bad input (no run, no finished checkpoint, a
workdir in use) prints one line on stderr and exits with status 2; an
export that cannot be written (a full disk) exits with status 1, nothing
published.
"""

import pathlib

from absl import app
from absl import flags
from absl import logging

from tfgen import cli
from tfgen import errors

FLAGS = flags.FLAGS

cli.define_shared_flag(flags.DEFINE_string, "workdir", None,
                       "A folder tfgen.train trained in.")
cli.define_shared_flag(flags.DEFINE_string, "export_base", None,
                       "TF Serving model base path (default: "
                       "<workdir>/export).")
cli.define_shared_flag(flags.DEFINE_string, "data_dir", None,
                       "TFDS folder where prepared datasets are cached "
                       "(default: the workdir's training's).")
cli.define_shared_flag(flags.DEFINE_string, "manual_dir", None,
                       "Folder with the standard dataset files, for offline "
                       "use (default: the workdir's training's).")


def republish(workdir, *, export_base=None, data_dir=None, manual_dir=None):
    """Publishes the trained model of ``workdir`` as a new version.

    Returns:
        The published version's ``pathlib.Path``.

    Raises:
        UsageError: as ``tfgen.evaluate.prepare_workdir``, or the workdir
            is held by a run.
        ExportError: as ``export.publish``.
    """
    import export
    from tfgen import checkpoints
    from tfgen import evaluate

    workdir = pathlib.Path(workdir)
    prepared = evaluate.prepare_workdir(workdir, data_dir=data_dir,
                                        manual_dir=manual_dir)
    with checkpoints.workdir_lock(workdir):
        return export.publish_trained(
            prepared.model, pathlib.Path(export_base or workdir / "export"),
            prepared.provenance["model"])


def main(argv):
    del argv  # Checked by cli.parse_flags.
    logging.set_verbosity(logging.WARNING)
    import export

    try:
        with cli.native_stderr_held():
            cli.refuse_config_overrides(
                "python -m export", "the trained run's config is exported")
            if not FLAGS.workdir:
                raise errors.UsageError("--workdir is required")
            path = republish(FLAGS.workdir, export_base=FLAGS.export_base,
                             data_dir=FLAGS.data_dir,
                             manual_dir=FLAGS.manual_dir)
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    except export.ExportError as error:
        cli.fail(str(error), 1)
    print(f"SavedModel: {path}")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
