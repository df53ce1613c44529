"""Publishes a model's SavedModel under a TensorFlow Serving model base path.

TF Serving watches ``<base_dir>/<model_name>/`` and loads every sub-folder
whose name is an integer as a version of the model. ``publish`` writes the
new version into a sibling folder whose name starts with a dot (which the
server ignores) and renames it into place only when it is complete, so a
server polling the base path never loads half a model. Before the rename
the written SavedModel is read back whole (its graph parsed, every variable
read and its checksum checked). On any error the temporary folder is
removed and nothing is left behind; a write that fails (a full disk)
raises ``ExportError`` saying which version failed and why. A publisher
killed outright leaves its hidden folder, which the next publish on the
same host removes once its process is gone.

By default the version carries TF Serving warmup requests
(``assets.extra/tf_serving_warmup_requests``), written before the rename so
they appear with it, and ``<base_dir>/models.config`` is rewritten after the
rename to name every model under the base folder.
"""

import functools
import os
import pathlib
import re
import secrets
import shutil
import socket
import zlib

import tensorflow as tf

from export import serving
from export import signatures
from tfgen import checkpoints

# One path component that TF Serving, shells and URLs all take as it is; a
# leading dot or separator would hide the model or escape the base path.
_MODEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_TEMPORARY_PREFIX = ".publishing-"
# .publishing-<version>-<host>-<pid>-<random>: whose folder it is.
_TEMPORARY_PATTERN = re.compile(
    re.escape(_TEMPORARY_PREFIX) + r"\d+-([0-9a-f]{8})-(\d+)-[0-9a-f]+")


class ExportError(OSError):
    """A version could not be written whole; nothing of it was published."""


def _host_tag():
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # Another user's process.
    return True


def remove_abandoned(model_dir):
    """Removes the hidden folders of publishers on this host that are gone
    (killed half-way); returns the folders removed."""
    model_dir = pathlib.Path(model_dir)
    removed = []
    if not model_dir.is_dir():
        return removed
    host = _host_tag()
    for entry in model_dir.iterdir():
        match = _TEMPORARY_PATTERN.fullmatch(entry.name)
        if (match and entry.is_dir() and match.group(1) == host
                and not _alive(int(match.group(2)))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def existing_versions(model_dir):
    """Returns the sorted integer versions published under a model folder.

    Args:
        model_dir: ``<base_dir>/<model_name>``; it need not exist.

    Returns:
        A sorted list of ints, the names of the folder's numeric sub-folders
        (the ones TF Serving loads).
    """
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(entry.name) for entry in model_dir.iterdir()
                  if entry.name.isdigit() and entry.is_dir())


def _validate_arguments(model, base_dir, model_name, version):
    capabilities = getattr(model, "capabilities", None)
    if not capabilities:
        raise ValueError(f"{type(model).__name__} declares no capabilities, "
                         f"so there is nothing to publish")
    if not isinstance(model_name, str) or not _MODEL_NAME_PATTERN.fullmatch(
            model_name):
        raise ValueError(
            f"model_name={model_name!r} must be one folder name of letters, "
            f"digits, '_', '.' and '-' that starts with a letter or digit")
    if version is not None and (isinstance(version, bool)
                                or not isinstance(version, int)
                                or version < 0):
        raise ValueError(f"version={version!r} must be a non-negative integer "
                         f"or None")
    if not isinstance(base_dir, (str, os.PathLike)) or not str(base_dir):
        raise ValueError(f"base_dir={base_dir!r} must be a folder path")
    base_dir = pathlib.Path(base_dir)
    if base_dir.exists() and not base_dir.is_dir():
        raise ValueError(f"base_dir {str(base_dir)!r} is not a folder")
    model_dir = base_dir / model_name
    if model_dir.exists() and not model_dir.is_dir():
        raise ValueError(f"{str(model_dir)!r} exists and is not a folder")
    return model_dir


def _make_folders(path):
    """Creates ``path`` and its missing parents; returns those it created."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # Made meanwhile by another publisher; not ours to remove.
        created.append(folder)
    return created


def _remove_empty_folders(folders):
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return  # Not empty: another version is published there.


def publish(model, base_dir, model_name, version=None, *,
            serving_default=None, write_extras=None, warmup=True,
            models_config=True):
    """Writes a model's SavedModel as a new version for TF Serving to load.

    Args:
        model: a ``tfgen.model.GenerativeModel`` (see
            ``export.build_serving_module``).
        base_dir: the TF Serving model base path's parent; created if missing.
        model_name: the model's name, one path component.
        version: the version to write; by default one more than the largest
            version already published (1 if none).
        serving_default: the capability behind ``serving_default``, as for
            ``export.build_serving_module``.
        write_extras: called as ``write_extras(saved_model_dir)`` on the
            complete but not yet published SavedModel folder, to add files
            that must appear with it. It runs before the warmup requests
            are written, and a warmup file it writes is kept as it is.
        warmup: whether to write ``export.write_warmup_requests``'s file into
            the version before it is published.
        models_config: whether to rewrite ``<base_dir>/models.config``
            (``export.write_models_config``) once the version is published.

    Returns:
        The ``pathlib.Path`` of the published version,
        ``<base_dir>/<model_name>/<version>``.

    Raises:
        ValueError: the model has no capabilities, ``model_name`` or
            ``version`` is invalid, the version already exists, or the model's
            signatures or warmup requests cannot be built. Nothing is left
            behind then.
        ExportError: the version could not be written (a full disk, a
            failed write), or does not read back whole. Nothing is left
            behind then either, and earlier versions are untouched.
        OSError: ``models.config`` could not be written. The version is
            published then; ``export.write_models_config`` can be retried.
    """
    model_dir = _validate_arguments(model, base_dir, model_name, version)
    if version is None:
        versions = existing_versions(model_dir)
        version = versions[-1] + 1 if versions else 1
    version_dir = model_dir / str(version)
    if version_dir.exists():
        raise ValueError(f"version {version} of {model_name!r} already exists "
                         f"at {str(version_dir)!r}; publish a new version "
                         f"instead of overwriting it")
    # Tracing before touching the disk makes a model that cannot be exported
    # fail without leaving folders behind.
    module = signatures.build_serving_module(model,
                                             serving_default=serving_default)
    serving_signatures = module.serving_signatures()

    created = _make_folders(model_dir)
    remove_abandoned(model_dir)
    temporary_dir = model_dir / (
        f"{_TEMPORARY_PREFIX}{version}-{_host_tag()}-{os.getpid()}-"
        f"{secrets.token_hex(4)}")
    try:
        try:
            temporary_dir.mkdir()
            tf.saved_model.save(module, str(temporary_dir),
                                signatures=serving_signatures)
            if write_extras is not None:
                write_extras(temporary_dir)
            if warmup and not (temporary_dir / serving.WARMUP_DIR /
                               serving.WARMUP_FILE).exists():
                serving.write_warmup_requests(
                    temporary_dir, model, model_name,
                    serving_default=serving_default)
        except (OSError, tf.errors.OpError) as error:
            reason = (str(error).strip().splitlines() or [repr(error)])[0]
            raise ExportError(
                f"could not write version {version} of {model_name!r} in "
                f"{model_dir}: {reason}; nothing was published") from error
        unreadable = checkpoints.saved_model_unreadable(temporary_dir)
        if unreadable is not None:
            raise ExportError(
                f"version {version} of {model_name!r} was written but does "
                f"not read back whole ({unreadable}); nothing was published")
        # os.rename replaces an empty folder silently; this check narrows the
        # window in which a concurrent publisher could be overwritten.
        if version_dir.exists():
            raise ValueError(f"version {version} of {model_name!r} appeared at "
                             f"{str(version_dir)!r} while it was written")
        os.rename(temporary_dir, version_dir)
    except BaseException:
        shutil.rmtree(temporary_dir, ignore_errors=True)
        _remove_empty_folders(created)
        raise
    # Outside the clean-up above: the version is already being served, and
    # removing it now would pull it from under a server that loaded it.
    if models_config:
        serving.write_models_config(model_dir.parent)
    return version_dir


def publish_trained(model, export_base, model_name):
    """Publishes a trained model with the record of what it models.

    ``publish`` with ``tfgen.evaluation``'s export record written into the
    version (its model name and config), which ``tfgen.evaluate
    --export_dir`` reads to know the data it models: what ``tfgen.train``
    and ``python -m export`` publish.

    Returns, Raises: as ``publish``.
    """
    from tfgen import evaluation

    return publish(model, export_base, model_name,
                   write_extras=functools.partial(
                       evaluation.write_export_record, model=model,
                       model_name=model_name))
