"""Reading what the training loop wrote to TensorBoard, for tests."""

import tensorflow as tf


def grid_steps(log_dir):
    """The epochs (summary steps) of every sample grid written in log_dir."""
    steps = []
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            steps += [event.step for value in event.summary.value
                      if value.tag == "samples"]
    return sorted(steps)
