"""Training under a ``tf.distribute`` strategy, chosen by name.

``python -m tfgen.train --strategy=NAME`` builds the model, its optimizers
and its checkpoint inside the strategy's scope, and ``model.fit`` splits
each global batch (``config.batch_size``) across the replicas:

- ``default``: no distribution (TensorFlow's default strategy), one device;
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over every local GPU, or
  over the CPU's logical devices (``--cpu_devices=N``) where there is no
  GPU;
- ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the
  processes that the ``TF_CONFIG`` environment variable names (``Cluster``),
  each on its local GPUs or its CPU. One of them, the chief, writes the
  workdir; the others write nothing that stays (see ``tfgen.training``).

What a replica computes is combined so that a step equals one on a single
device with the same global batch: gradients are weighted by the
replica's share of the batch (``GenerativeModel.apply_gradients``), and
training noise is drawn for the whole global batch and sliced
(``GenerativeModel.training_noise``), so each example gets the noise it
would get on one device. Metrics are Keras's, summed across replicas. A
model whose step needs the whole batch at once says so
(``GenerativeModel.distribution_problem``) and the run is refused.
"""

import dataclasses
import json
import os
import re

import tensorflow as tf

from tfgen import errors

STRATEGIES = ("default", "mirrored", "multi_worker")
# The jobs a multi-worker cluster may have: every task trains.
CLUSTER_JOBS = ("chief", "worker")


@dataclasses.dataclass(frozen=True)
class Cluster:
    """This process's place in a multi-worker cluster (from ``TF_CONFIG``).

    Attributes:
        task_type: ``"chief"`` or ``"worker"``.
        task_index: the task's index in its job.
        num_workers: how many tasks train, the chief included.
    """

    task_type: str
    task_index: int
    num_workers: int
    has_chief_job: bool = False

    @property
    def is_chief(self):
        """Whether this task writes the workdir: the ``chief`` task, or
        ``worker`` 0 in a cluster without one."""
        if self.has_chief_job:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    @property
    def name(self):
        return f"{self.task_type}-{self.task_index}"


def cluster_from_env(environ=None):
    """Reads and checks ``TF_CONFIG``: the cluster and this process's task.

    ``TF_CONFIG`` is JSON: ``{"cluster": {"worker": ["host:port", ...]},
    "task": {"type": "worker", "index": 0}}``, the same list of addresses
    in every process, ``index`` telling each which one it is; a ``chief``
    job of one address may stand beside ``worker``.

    Raises:
        UsageError: ``TF_CONFIG`` is missing or is not such a value; the
            message names what is wrong.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    if not text:
        raise errors.UsageError(
            "--strategy=multi_worker needs the TF_CONFIG environment "
            'variable, e.g. TF_CONFIG=\'{"cluster": {"worker": '
            '["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
            '"index": 0}}\' (see the README, "Training on several machines")')

    def bad(what):
        return errors.UsageError(f"TF_CONFIG: {what}")

    try:
        value = json.loads(text)
    except ValueError as error:
        raise bad(f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise bad("must be a JSON object with \"cluster\" and \"task\"")
    cluster, task = value.get("cluster"), value.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise bad('"cluster" must map job names to lists of "host:port"')
    for job, addresses in cluster.items():
        if job not in CLUSTER_JOBS:
            raise bad(f"job {job!r} is not supported; every task trains, "
                      f"in the jobs {', '.join(CLUSTER_JOBS)}")
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and a.rpartition(":")[2].isdigit()
                           and a.rpartition(":")[0] for a in addresses)):
            raise bad(f'job {job!r} must be a list of "host:port" '
                      f"addresses, not {addresses!r}")
    if len(cluster.get("chief", [])) > 1:
        raise bad(f"the chief job has {len(cluster['chief'])} addresses; "
                  "it may have one")
    every = [a for addresses in cluster.values() for a in addresses]
    if len(set(every)) != len(every):
        raise bad("an address appears twice in the cluster")
    if not isinstance(task, dict):
        raise bad('"task" must be {"type": JOB, "index": N}')
    task_type, index = task.get("type"), task.get("index")
    if task_type not in cluster:
        raise bad(f"task type {task_type!r} is not a job of the cluster "
                  f"({', '.join(cluster)})")
    if isinstance(index, bool) or not isinstance(index, int) or not (
            0 <= index < len(cluster[task_type])):
        raise bad(f"task index {index!r} is not an index of the "
                  f"{task_type!r} job (0 to {len(cluster[task_type]) - 1})")
    return Cluster(task_type, index, len(every),
                   has_chief_job="chief" in cluster)


class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """``MultiWorkerMirroredStrategy`` that knows its ``Cluster``, with the
    ``reduce`` that Keras's ``fit`` expects of it.

    Keras reduces a whole nest of values at once (a batch of features before
    the first step), which ``MirroredStrategy`` does leaf by leaf and this
    strategy's parent refuses; and it reduces each step's metrics, scalars,
    along ``axis=0`` (which a scalar lacks), and without an axis at all for
    a sum. So the nest is reduced leaf by leaf, a scalar across replicas.

    Args:
        cluster: the ``Cluster`` that ``TF_CONFIG`` describes.
    """

    def __init__(self, cluster):
        super().__init__()
        self.cluster = cluster

    def reduce(self, reduce_op, value, axis=None):
        parent = super().reduce

        def one(leaf):
            local = self.experimental_local_results(leaf)[0]
            scalar = getattr(local, "shape", None) is not None and (
                local.shape.rank == 0)
            return parent(reduce_op, leaf, None if scalar else axis)

        return tf.nest.map_structure(one, value)


def cluster_of(strategy):
    """The ``Cluster`` of a multi-worker strategy; None for the others."""
    return getattr(strategy, "cluster", None) if isinstance(
        strategy, MultiWorkerStrategy) else None


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

    ``multi_worker`` must be made before TensorFlow runs its first op, and
    waits there until every task of the cluster has started.

    Raises:
        UsageError: an unknown name, or (``multi_worker``) a bad
            ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise errors.UsageError(
            f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        cluster = cluster_from_env()
        try:
            return MultiWorkerStrategy(cluster)
        except RuntimeError as error:
            raise errors.UsageError(
                "--strategy=multi_worker: the strategy must be made before "
                f"TensorFlow runs its first op ({error})") from None
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


def from_chief(strategy, value):
    """The chief's ``value`` (an integer), in every task of ``strategy``.

    A collective: every task calls it at the same point, and none returns
    before the chief has called it, so it also orders what the chief does
    before it ahead of what the others do after it. Without a cluster,
    ``value`` itself.
    """
    cluster = cluster_of(strategy)
    if cluster is None:
        return int(value)
    mine = int(value) if cluster.is_chief else 0

    def contribution():
        # Replica 0 of the group is the chief's first: the chief comes
        # first in the cluster's order, worker 0 where there is none.
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        return tf.where(first, tf.constant(mine, tf.int64),
                        tf.constant(0, tf.int64))

    total = strategy.reduce(tf.distribute.ReduceOp.SUM,
                            strategy.run(contribution), axis=None)
    return int(total.numpy())


def lost_task(error):
    """What an error of a collective that a lost task aborted says, in a
    line: the task that stopped, where TensorFlow names it."""
    text = str(error)
    match = re.search(r"unhealthy[^\n]*\n\s*(/job:\S+)", text)
    if match:
        return (f"the cluster lost the task {match.group(1)} (it stopped "
                "sending heartbeats)")
    match = re.search(r"remote target (/job:[^\s:]+(?::\d+)?(?:/\S+)?)",
                      text)
    if match:
        reason = re.search(r'grpc_message:"([^"]*)"', text)
        task = match.group(1).rstrip(":")
        return (f"the cluster lost the task {task} "
                f"({reason.group(1) if reason else 'its connection failed'})")
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and "execution error" not in line
             and not line.strip().startswith("Detected at node")]
    return "the cluster lost a task" + (f" ({lines[0]})" if lines else "")
