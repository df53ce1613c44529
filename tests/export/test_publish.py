"""Tests of export.publish: versions under a TF Serving model base path.

TF Serving loads every numeric sub-folder of ``<base>/<model_name>/``, so
these tests check what such a server would see at each moment: complete
numbered versions only, never a half-written one, and nothing left behind
by a failed or refused publish.
"""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import export
from tfgen import checkpoints
from tfgen import config as config_lib
from tfgen.data import info
from tfgen.model import GenerativeModel

export_publish = sys.modules["export.publish"]

IMAGE_SHAPE = (2, 2, 1)


class Reconstructor(GenerativeModel):
    """A one-layer model with a single capability, ``reconstruct``."""

    capabilities = ("reconstruct",)

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.dense = keras.Sequential(
            [keras.Input((data_info.num_pixels,)),
             keras.layers.Dense(data_info.num_pixels, activation="sigmoid")])
        self.built = True

    def _reconstruct(self, images):
        flat = tf.reshape(images, [-1, self.data_info.num_pixels])
        return {"images": tf.reshape(self.dense(flat),
                                     (-1,) + self.data_info.image_shape)}


class Inert(Reconstructor):
    capabilities = ()


def make_model(model_class=Reconstructor):
    config = config_lib.base_config()
    config.preprocessing = "unit"
    data_info = info.DataInfo(name="toy", event_shape=IMAGE_SHAPE,
                              num_levels=2, num_classes=2)
    return model_class(config, data_info)


@pytest.fixture(scope="module")
def model():
    return make_model()


def entries(folder):
    """Names in ``folder``, or None if it does not exist."""
    return sorted(os.listdir(folder)) if folder.exists() else None


def test_versions_are_numbered_from_one(model, tmp_path):
    first = export.publish(model, tmp_path, "toy")
    second = export.publish(model, tmp_path, "toy")
    assert first == tmp_path / "toy" / "1"
    assert second == tmp_path / "toy" / "2"
    assert entries(tmp_path / "toy") == ["1", "2"]
    assert (second / "saved_model.pb").is_file()
    assert (second / "variables").is_dir()
    images = tf.fill((1,) + IMAGE_SHAPE, 0.25)
    served = tf.saved_model.load(str(second)).signatures["serving_default"](
        images=images)["images"]
    np.testing.assert_allclose(served.numpy(),
                               model.reconstruct(images)["images"].numpy(),
                               rtol=1e-6)


def test_next_version_follows_the_largest_numeric_one(model, tmp_path):
    for name in ("3", "10", "latest", ".hidden", "99.tmp"):
        (tmp_path / "toy" / name).mkdir(parents=True)
    (tmp_path / "toy" / "50").write_text("a file, not a version")
    assert export.existing_versions(tmp_path / "toy") == [3, 10]
    published = export.publish(model, tmp_path, "toy")
    assert published == tmp_path / "toy" / "11"


def test_explicit_version(model, tmp_path):
    published = export.publish(model, tmp_path, "toy", version=7)
    assert published == tmp_path / "toy" / "7"
    assert export.publish(model, tmp_path, "toy") == tmp_path / "toy" / "8"


def test_version_is_written_under_a_name_serving_ignores(model, tmp_path,
                                                         monkeypatch):
    real_save = tf.saved_model.save
    seen_while_writing = []

    def save_and_look(module, export_dir, **kwargs):
        real_save(module, export_dir, **kwargs)
        seen_while_writing.extend(entries(tmp_path / "toy"))

    monkeypatch.setattr(tf.saved_model, "save", save_and_look)
    export.publish(model, tmp_path, "toy")
    assert len(seen_while_writing) == 1
    assert seen_while_writing[0].startswith(".")
    assert not seen_while_writing[0].isdigit()
    assert entries(tmp_path / "toy") == ["1"]


def test_extras_are_published_with_the_version(model, tmp_path):
    def write_warmup(saved_model_dir):
        extra = saved_model_dir / "assets.extra"
        extra.mkdir()
        (extra / "tf_serving_warmup_requests").write_bytes(b"records")

    published = export.publish(model, tmp_path, "toy",
                               write_extras=write_warmup)
    assert (published / "assets.extra" / "tf_serving_warmup_requests"
            ).read_bytes() == b"records"


def failing_save(module, export_dir, **kwargs):
    del module, kwargs  # Unused: this save fails half-way.
    with open(os.path.join(export_dir, "saved_model.pb"), "wb") as partial:
        partial.write(b"half a model")
    raise RuntimeError("disk full")


def test_failed_save_leaves_nothing_behind(model, tmp_path, monkeypatch):
    monkeypatch.setattr(tf.saved_model, "save", failing_save)
    with pytest.raises(RuntimeError, match="disk full"):
        export.publish(model, tmp_path, "toy")
    assert entries(tmp_path) == []


def test_failed_save_keeps_earlier_versions(model, tmp_path, monkeypatch):
    export.publish(model, tmp_path, "toy")
    monkeypatch.setattr(tf.saved_model, "save", failing_save)
    with pytest.raises(RuntimeError, match="disk full"):
        export.publish(model, tmp_path, "toy")
    assert entries(tmp_path / "toy") == ["1"]
    assert (tmp_path / "toy" / "1" / "saved_model.pb").is_file()


def test_failed_extras_leave_nothing_behind(model, tmp_path):
    def fail(saved_model_dir):
        (saved_model_dir / "assets.extra").mkdir()
        raise OSError("cannot write warmup requests")

    with pytest.raises(OSError, match="warmup"):
        export.publish(model, tmp_path / "base", "toy", write_extras=fail)
    assert entries(tmp_path) == []


@pytest.mark.parametrize("model_name", [
    "", ".", "..", ".hidden", "a/b", "../escape", "/absolute", "a\\b",
    "with space", "-dash", None, 3])
def test_bad_model_name_is_rejected_before_writing(model, tmp_path,
                                                   monkeypatch, model_name):
    monkeypatch.setattr(tf.saved_model, "save", failing_save)
    with pytest.raises(ValueError, match="model_name"):
        export.publish(model, tmp_path / "base", model_name)
    assert entries(tmp_path) == []


@pytest.mark.parametrize("version", [-1, True, "2", 1.5])
def test_bad_version_is_rejected_before_writing(model, tmp_path, version):
    with pytest.raises(ValueError, match="version"):
        export.publish(model, tmp_path / "base", "toy", version=version)
    assert entries(tmp_path) == []


def test_existing_version_is_refused(model, tmp_path, monkeypatch):
    (tmp_path / "toy" / "4").mkdir(parents=True)
    (tmp_path / "toy" / "4" / "keep").write_text("served now")
    monkeypatch.setattr(tf.saved_model, "save", failing_save)
    with pytest.raises(ValueError, match="already exists"):
        export.publish(model, tmp_path, "toy", version=4)
    assert entries(tmp_path / "toy") == ["4"]
    assert entries(tmp_path / "toy" / "4") == ["keep"]


def test_model_without_capabilities_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no capabilities"):
        export.publish(make_model(Inert), tmp_path / "base", "toy")
    assert entries(tmp_path) == []


def test_base_dir_that_is_a_file_is_refused(model, tmp_path):
    (tmp_path / "base").write_text("not a folder")
    with pytest.raises(ValueError, match="not a folder"):
        export.publish(model, tmp_path / "base", "toy")
    assert entries(tmp_path) == ["base"]


def test_a_full_disk_leaves_earlier_versions_and_says_so(model, tmp_path,
                                                         file_size_limit):
    export.publish(model, tmp_path, "toy", warmup=False)
    file_size_limit(64)  # Less than any file of a SavedModel.
    with pytest.raises(export.ExportError) as raised:
        export.publish(model, tmp_path, "toy", warmup=False)
    file_size_limit(None)
    message = str(raised.value)
    assert message.startswith(
        f"could not write version 2 of 'toy' in {tmp_path / 'toy'}: ")
    assert message.endswith("; nothing was published")
    assert entries(tmp_path / "toy") == ["1"]
    assert checkpoints.saved_model_unreadable(tmp_path / "toy" / "1") is None


def test_a_version_that_does_not_read_back_is_not_published(
        model, tmp_path, monkeypatch):
    real_save = tf.saved_model.save

    def save_and_damage(module, export_dir, **kwargs):
        real_save(module, export_dir, **kwargs)
        (data,) = pathlib.Path(export_dir, "variables").glob(
            "variables.data-*")
        os.truncate(data, data.stat().st_size // 2)

    monkeypatch.setattr(tf.saved_model, "save", save_and_damage)
    with pytest.raises(export.ExportError, match="does not read back whole"):
        export.publish(model, tmp_path, "toy", warmup=False)
    assert entries(tmp_path) == []


@pytest.mark.parametrize("damage", ["graph", "variables"])
def test_a_damaged_export_is_named_when_read(model, tmp_path, damage):
    version = export.publish(model, tmp_path, "toy", warmup=False)
    assert checkpoints.saved_model_unreadable(version) is None
    if damage == "graph":
        path = version / "saved_model.pb"
    else:
        (path,) = (version / "variables").glob("variables.data-*")
    os.truncate(path, path.stat().st_size // 2)
    reason = checkpoints.saved_model_unreadable(version)
    assert reason.startswith(str(path if damage == "graph" else
                                 version / "variables" / "variables") + ": ")


# Publishes the test model with a save that stops once the SavedModel is
# written, for the parent to kill.
_KILLED_PUBLISHER = """
import sys, time
sys.path.insert(0, {tests!r})
import tensorflow as tf
import export
from test_publish import make_model

real_save = tf.saved_model.save
def save_then_wait(module, export_dir, **kwargs):
    real_save(module, export_dir, **kwargs)
    print("written", flush=True)
    time.sleep(600)
tf.saved_model.save = save_then_wait
export.publish(make_model(), {base!r}, "toy", warmup=False)
"""


def test_a_publisher_killed_half_way_shows_no_version(model, tmp_path):
    export.publish(model, tmp_path, "toy", warmup=False)
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PUBLISHER.format(
            tests=str(pathlib.Path(__file__).parent), base=str(tmp_path))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "written"
    finally:
        process.kill()
        process.wait()
    # What a server polling the base path sees: version 1 alone.
    assert export.existing_versions(tmp_path / "toy") == [1]
    (hidden,) = [name for name in entries(tmp_path / "toy") if name != "1"]
    assert hidden.startswith(".") and f"-{process.pid}-" in hidden
    # The next publish removes what the dead one left, and goes on.
    assert export.publish(model, tmp_path, "toy", warmup=False).name == "2"
    assert entries(tmp_path / "toy") == ["1", "2"]


def test_a_live_publishers_folder_is_left_alone(tmp_path):
    live = tmp_path / "toy" / (
        f".publishing-3-{export_publish._host_tag()}-{os.getpid()}-ab12cd34")
    live.mkdir(parents=True)
    other_host = tmp_path / "toy" / ".publishing-3-00000000-1-ab12cd34"
    other_host.mkdir()
    assert export.remove_abandoned(tmp_path / "toy") == []
    assert live.is_dir() and other_host.is_dir()
