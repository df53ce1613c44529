"""The core's sequential sampling loop, ``tfgen.chains.run_chain``."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import chains


def _block_noise(block_size, rows=2):
    """Noise of step t is t + 1 in every row, in blocks of block_size."""

    def noise(block):
        steps = block * block_size + tf.range(block_size, dtype=tf.int64)
        return tf.tile(tf.cast(steps + 1, tf.float32)[None], [rows, 1])

    return noise


def _record(t, state, noise_t):
    """Appends (t, noise_t) to a history: the state keeps every step."""
    history, count = state
    entry = tf.stack([tf.cast(t, tf.float32) * tf.ones_like(noise_t),
                      noise_t], axis=-1)  # (rows, 2)
    history = tf.tensor_scatter_nd_update(history, [[count]], entry[None])
    return history, count + 1


@pytest.mark.parametrize("block_size", [1, 3, 7, 20])
@pytest.mark.parametrize("num_steps", [0, 1, 7])
def test_each_step_runs_once_in_order_with_its_own_noise(num_steps,
                                                         block_size):
    start = (tf.zeros([8, 2, 2]), tf.constant(0))
    history, count = chains.run_chain(start, num_steps, _record,
                                      _block_noise(block_size), block_size)
    assert int(count) == num_steps
    steps = np.arange(num_steps, dtype=np.float32)
    np.testing.assert_array_equal(history[:num_steps, 0, 0], steps)
    # Step t read the noise drawn for t, whatever the block size.
    np.testing.assert_array_equal(history[:num_steps, :, 1],
                                  np.tile(steps[:, None] + 1, [1, 2]))
    np.testing.assert_array_equal(history[num_steps:], 0.0)


def test_blocks_are_drawn_once_each_and_nested_noise_is_sliced():
    drawn = []

    def noise(block):
        drawn.append(block)  # traced once: the outer loop's body
        return {"a": tf.zeros([2, 4, 3]) + tf.cast(block, tf.float32),
                "b": tf.ones([2, 4])}

    def step(t, state, noise_t):
        assert noise_t["a"].shape == (2, 3) and noise_t["b"].shape == (2,)
        return state + noise_t["a"][:, 0] + noise_t["b"]

    # Steps 0-3 read block 0, 4-7 block 1, 8-9 block 2: 4*0 + 4*1 + 2*2
    # from "a", plus 10 ones from "b".
    total = tf.function(lambda: chains.run_chain(
        tf.zeros([2]), 10, step, noise, 4))()
    np.testing.assert_array_equal(total, [18.0, 18.0])
    assert len(drawn) == 1


def test_a_chain_without_noise_and_a_tensor_number_of_steps():
    run = tf.function(lambda steps: chains.run_chain(
        tf.constant(1.0), steps, lambda t, x, noise: x * 2.0))
    assert float(run(tf.constant(5))) == 32.0
    assert float(run(tf.constant(0))) == 1.0


def test_a_block_size_below_one_is_refused():
    with pytest.raises(ValueError, match="block_size=0"):
        chains.run_chain(tf.zeros([1]), 3, lambda t, x, n: x,
                         _block_noise(1), block_size=0)


@pytest.mark.parametrize("rows,size", [(10, 3), (9, 3), (2, 5), (1, 1)])
def test_minibatches_cover_the_batch_in_order_once_each(rows, size):
    images = tf.reshape(tf.range(rows * 2, dtype=tf.float32), [rows, 2])
    labels = tf.range(rows)
    seen = tf.Variable(tf.zeros([rows], tf.int32))
    order = tf.Variable(tf.fill([rows], -1))

    def update(index, minibatch):
        images_part, labels_part = minibatch
        # The images and labels of a minibatch are the same rows.
        tf.debugging.assert_equal(images_part[:, 0],
                                  2.0 * tf.cast(labels_part, tf.float32))
        rows_seen = tf.one_hot(labels_part, rows, dtype=tf.int32)
        seen.assign_add(tf.reduce_sum(rows_seen, axis=0))
        order.scatter_nd_update(labels_part[:, None],
                                tf.fill(tf.shape(labels_part), index))

    count, (last_images, last_labels) = tf.function(
        lambda: chains.for_each_minibatch((images, labels), size, update))()
    expected_count = -(-rows // size)
    assert int(count) == expected_count
    np.testing.assert_array_equal(seen.numpy(), 1)
    np.testing.assert_array_equal(order.numpy(), np.arange(rows) // size)
    np.testing.assert_array_equal(last_labels,
                                  np.arange((expected_count - 1) * size, rows))
    assert last_images.shape[0] == len(last_labels)


def test_a_minibatch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="minibatch_size=0"):
        chains.for_each_minibatch(tf.zeros([3, 1]), 0, lambda i, m: None)
