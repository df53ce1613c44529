"""Runs training on one device and on two mirrored CPU replicas; prints both.

Run as a program (``python tests/distributed_helpers.py DATA_DIR CHECK...``)
by ``tests/tfgen/test_distribute.py``: the CPU must be split into two
logical devices before TensorFlow starts, so this runs in a process of its
own. Each check is ``MODEL[:STEPS][:uneven][:FIELD=VALUE,...]``: the
model's tiny config, trained for STEPS steps (0: one epoch) of epoch 0 of
the training split under the default strategy and under ``mirrored``;
``uneven`` trains on the first batch size + 3 examples instead, whose second
batch the replicas split 2 and 1. One JSON line per check gives the largest
difference of the trainable variables, relative to 1 + |value| (or the
error, for a model that refuses the strategy).
"""

import json
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tfgen import distribute  # noqa: E402

distribute.split_cpu(2)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgen import data  # noqa: E402
from tfgen import errors  # noqa: E402
from tfgen import train  # noqa: E402


def train_briefly(name, strategy, data_dir, *, steps, uneven, overrides):
    """The trainable variables after ``steps`` steps under ``strategy``."""
    with tempfile.TemporaryDirectory() as workdir:
        run = train.prepare(name, variant="tiny", workdir=workdir,
                            data_dir=data_dir, epochs=1, overrides=overrides,
                            strategy=strategy)
        model, config = run.model, run.config
        size = (config.batch_size + 3 if uneven
                else run.info.split_sizes["train"])
        with run.strategy.scope():
            model.build_for_training()

            def batches():
                return data.shuffled_epochs(
                    lambda epoch: run.train_by_epoch(epoch).take(size),
                    size=size, seed=config.seed,
                    batch_size=config.batch_size, epochs=range(1))

            model.adapt(batches())
            model.begin_stage(model.training_stages()[0][0])
            model.fit(batches(), epochs=1, verbose=0,
                      steps_per_epoch=steps or data.num_batches(
                          size, config.batch_size))
        replicas = run.strategy.num_replicas_in_sync
        return [np.array(v.numpy()) for v in model.trainable_variables], \
            replicas


def check(spec, data_dir):
    parts = spec.split(":")
    name, steps, size, fields = parts + ["", "0", "", ""][len(parts):]
    overrides = dict(field.split("=", 1) for field in fields.split(",")
                     if field)
    row = {"check": spec, "model": name}
    try:
        one, _ = train_briefly(name, "default", data_dir, steps=int(steps),
                               uneven=size == "uneven", overrides=overrides)
        two, replicas = train_briefly(name, "mirrored", data_dir,
                                      steps=int(steps),
                                      uneven=size == "uneven",
                                      overrides=overrides)
    except errors.UsageError as error:
        row["refused"] = str(error)
        return row
    row["replicas"] = replicas
    row["difference"] = max(
        float(np.max(np.abs(a - b) / (1.0 + np.abs(a))))
        for a, b in zip(one, two))
    return row


def main(argv):
    tf.config.experimental.enable_op_determinism()
    data_dir, specs = argv[1], argv[2:]
    for spec in specs:
        print(json.dumps(check(spec, data_dir)), flush=True)


if __name__ == "__main__":
    main(sys.argv)
