"""Training under a ``tf.distribute`` strategy, chosen by name.

``python -m tfgen.train --strategy=NAME`` builds the model, its optimizers
and its checkpoint inside the strategy's scope, and ``model.fit`` splits
each global batch (``config.batch_size``) across the replicas:

- ``default``: no distribution (TensorFlow's default strategy), one device;
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over every local GPU, or
  over the CPU's logical devices (``--cpu_devices=N``) where there is no
  GPU.

What a replica computes is combined so that a step equals one on a single
device with the same global batch: gradients are weighted by the
replica's share of the batch (``GenerativeModel.apply_gradients``), and
training noise is drawn for the whole global batch and sliced
(``GenerativeModel.training_noise``), so each example gets the noise it
would get on one device. Metrics are Keras's, summed across replicas. A
model whose step needs the whole batch at once says so
(``GenerativeModel.distribution_problem``) and the run is refused.
"""

import tensorflow as tf

from tfgen import errors

STRATEGIES = ("default", "mirrored")


def split_cpu(num_devices):
    """Splits the CPU into ``num_devices`` logical devices.

    For running ``mirrored`` without GPUs (tests, trying a strategy out).
    Must come before TensorFlow starts its runtime (before any op runs).

    Raises:
        UsageError: ``num_devices`` is below 1, or the runtime has started.
    """
    if num_devices < 1:
        raise errors.UsageError(
            f"--cpu_devices={num_devices} must be at least 1")
    if num_devices == 1:
        return
    (cpu,) = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)
    except RuntimeError as error:
        raise errors.UsageError(
            f"--cpu_devices={num_devices}: TensorFlow has already started "
            f"({error})") from None


def get_strategy(name):
    """The ``tf.distribute.Strategy`` called ``name`` (see ``STRATEGIES``).

    Raises:
        UsageError: an unknown name.
    """
    if name not in STRATEGIES:
        raise errors.UsageError(
            f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [device.name for device in
               (gpus or tf.config.list_logical_devices("CPU"))]
    if len(devices) == 1:
        return tf.distribute.OneDeviceStrategy(devices[0])
    return tf.distribute.MirroredStrategy(devices)


def replica_rows(rows):
    """``(offset, total)`` of this replica's ``rows`` in the global batch.

    In a replica context of a strategy with several replicas, the replicas'
    rows are all-gathered (replica 0's batch comes first, as
    ``experimental_distribute_dataset`` splits a batch), so the last,
    smaller batch of an epoch is handled too; elsewhere ``(0, rows)``.

    Args:
        rows: this replica's number of examples, a scalar int32 tensor.
    """
    context = tf.distribute.get_replica_context()
    strategy = tf.distribute.get_strategy()
    if context is None or strategy.num_replicas_in_sync == 1:
        return tf.constant(0, tf.int32), rows
    every = context.all_gather(tf.reshape(tf.cast(rows, tf.int32), [1]),
                               axis=0)  # (replicas,)
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    offset = tf.reduce_sum(every[:replica])
    return offset, tf.reduce_sum(every)
