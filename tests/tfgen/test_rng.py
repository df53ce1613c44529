"""Named stateless streams: reproducible, independent, well distributed."""

import numpy as np
import pytest
from scipy import stats
import tensorflow as tf

from tfgen import rng


def test_same_seeds_same_draws_and_rows_are_independent_of_the_batch():
    stream = rng.Stream(0, "sample")
    seeds = tf.constant([1, 2, 3], tf.int64)
    first = stream.normal_rows(seeds, [4]).numpy()
    assert first.shape == (3, 4)
    # A new Stream object of the same seed and name: the same draws.
    np.testing.assert_array_equal(
        first, rng.Stream(0, "sample").normal_rows(seeds, [4]))
    # Row i depends on seeds[i] alone: alone, in another order, or beside
    # other seeds, it is the same.
    np.testing.assert_array_equal(first[2:], stream.normal_rows(seeds[2:],
                                                                [4]))
    np.testing.assert_array_equal(
        first[::-1], stream.normal_rows(tf.constant([3, 2, 1], tf.int64),
                                        [4]))
    np.testing.assert_array_equal(
        first[1], stream.normal_rows(tf.constant([9, 2, 7], tf.int64),
                                     [4])[1])
    assert not np.allclose(first[0], first[1])
    uniform = stream.uniform_rows(seeds, [2, 3]).numpy()
    assert uniform.shape == (3, 2, 3)
    np.testing.assert_array_equal(uniform[1:2],
                                  stream.uniform_rows(seeds[1:2], [2, 3]))


def test_whole_draws_are_the_same_at_every_call():
    stream = rng.Stream(5, "evaluation")
    np.testing.assert_array_equal(stream.normal([3, 2]),
                                  rng.Stream(5, "evaluation").normal([3, 2]))
    np.testing.assert_array_equal(stream.uniform([7]), stream.uniform([7]))


@pytest.mark.parametrize("other", [
    rng.Stream(0, "bound"),        # another name
    rng.Stream(1, "sample"),       # another instance seed
])
def test_other_names_and_instance_seeds_give_other_draws(other):
    seeds = tf.constant([5, 6], tf.int64)
    base = rng.Stream(0, "sample")
    assert not np.allclose(base.uniform_rows(seeds, [8]),
                           other.uniform_rows(seeds, [8]))
    assert not np.allclose(base.normal([8]), other.normal([8]))


def test_other_steps_give_other_draws():
    stream = rng.Stream(0, "sample")
    seeds = tf.constant([5, 6], tf.int64)
    by_step = [stream.uniform_rows(seeds, [8], step=step).numpy()
               for step in range(3)]
    for one in range(3):
        for two in range(one + 1, 3):
            assert not np.allclose(by_step[one], by_step[two])
    assert not np.allclose(stream.normal([8], step=0),
                           stream.normal([8], step=1))
    # Row seed and step are not interchangeable: (seed 1, step 2) is not
    # (seed 2, step 1).
    assert not np.allclose(
        stream.uniform_rows(tf.constant([1], tf.int64), [8], step=2),
        stream.uniform_rows(tf.constant([2], tf.int64), [8], step=1))


def test_draws_have_the_right_distribution():
    stream = rng.Stream(3, "moments")
    seeds = tf.range(2000, dtype=tf.int64)
    normal = stream.normal_rows(seeds, [5]).numpy().ravel()
    uniform = stream.uniform_rows(seeds, [5]).numpy().ravel()
    whole_normal = stream.normal([10000], step=1).numpy()
    whole_uniform = stream.uniform([10000], step=1).numpy()
    for draws in (normal, whole_normal):
        # 10,000 draws: standard errors 0.01 (mean) and 0.014 (variance);
        # the bounds are 5 of them.
        assert abs(draws.mean()) < 0.05 and abs(draws.var() - 1) < 0.07
        assert stats.kstest(draws, "norm").pvalue > 1e-3
    for draws in (uniform, whole_uniform):
        assert draws.min() >= 0 and draws.max() < 1
        # Standard errors 0.0029 (mean) and 0.0008 (variance, 1/12).
        assert abs(draws.mean() - 0.5) < 0.015
        assert abs(draws.var() - 1 / 12) < 0.004
        assert stats.kstest(draws, "uniform").pvalue > 1e-3
    # Draws of neighbouring rows are uncorrelated.
    rows = stream.normal_rows(seeds, [2]).numpy()  # (2000, 2)
    assert abs(np.corrcoef(rows[:-1, 0], rows[1:, 0])[0, 1]) < 0.1


def test_tensor_step_inside_a_function_matches_the_python_step():
    stream = rng.Stream(2, "chain")
    seeds = tf.constant([4, 9], tf.int64)

    @tf.function
    def draws_by_step(num_steps):
        return tf.map_fn(
            lambda step: stream.uniform_rows(seeds, [3], step=step),
            tf.range(num_steps, dtype=tf.int64),
            fn_output_signature=tf.float32)  # (steps, B, 3)

    @tf.function
    def whole_at(step):
        return stream.normal([4], step=step)

    by_step = draws_by_step(tf.constant(3, tf.int64)).numpy()
    for step in range(3):
        np.testing.assert_array_equal(
            by_step[step], stream.uniform_rows(seeds, [3], step=step))
        np.testing.assert_array_equal(
            whole_at(tf.constant(step, tf.int64)), stream.normal([4],
                                                                 step=step))
    assert not np.allclose(by_step[0], by_step[1])


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_stream_needs_a_name(name):
    with pytest.raises(ValueError, match="non-empty name"):
        rng.Stream(0, name)
