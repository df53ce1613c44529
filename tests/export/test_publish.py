"""Tests of export.publish: versions under a TF Serving model base path.

TF Serving loads every numeric sub-folder of ``<base>/<model_name>/``, so
these tests check what such a server would see at each moment: complete
numbered versions only, never a half-written one, and nothing left behind
by a failed or refused publish.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import export
from tfgen import config as config_lib
from tfgen.data import info
from tfgen.model import GenerativeModel

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
