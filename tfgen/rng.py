"""Stateless, per-row randomness for capabilities that reach a signature.

A served ``sample`` request carries one integer seed per row; row ``i`` of the
answer depends only on ``seeds[i]``, the model instance's own seed and a
``salt`` naming the use (so that two draws in one computation differ). The
same request therefore always gets the same answer, whatever else is in its
batch.
"""

import tensorflow as tf

_SALT_MULTIPLIER = 1_000_003


def _row_seed_pairs(seeds, instance_seed, salt):
    seeds = tf.cast(tf.reshape(seeds, [-1]), tf.int64)
    # The salt may be a tensor, e.g. the step counter of a Gibbs chain.
    tag = tf.math.floormod(
        int(instance_seed) * _SALT_MULTIPLIER + tf.cast(salt, tf.int64),
        2**31 - 1)
    return tf.stack([seeds, tf.fill(tf.shape(seeds), tag)], axis=1)  # (B, 2)


def _per_row(draw, seeds, shape, instance_seed, salt, dtype):
    pairs = _row_seed_pairs(seeds, instance_seed, salt)
    return tf.map_fn(lambda pair: draw(shape, seed=pair, dtype=dtype), pairs,
                     fn_output_signature=dtype)  # (B, *shape)


def normal(seeds, shape, *, instance_seed, salt=0, dtype=tf.float32):
    """Standard normal draws, one independent tensor of ``shape`` per seed.

    Args:
        seeds: integer tensor ``(B,)``, one seed per row.
        shape: the shape of each row's draw.
        instance_seed: the model instance's seed (``config.seed``).
        salt: distinguishes independent draws made from the same seeds; a
            Python int or an integer scalar tensor (a loop counter, say).
        dtype: floating dtype of the result.

    Returns:
        A tensor ``(B, *shape)``.
    """
    return _per_row(tf.random.stateless_normal, seeds, list(shape),
                    instance_seed, salt, dtype)


def uniform(seeds, shape, *, instance_seed, salt=0, dtype=tf.float32):
    """Uniform [0, 1) draws, one independent tensor of ``shape`` per seed.

    Args and Returns are as for ``normal``.
    """
    return _per_row(tf.random.stateless_uniform, seeds, list(shape),
                    instance_seed, salt, dtype)
