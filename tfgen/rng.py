"""Named, stateless random streams for everything that reaches a signature.

A model owns one ``Stream`` per use of randomness (``"sample"``, ``"bound"``,
``"labels"``, ...), made from the model's seed and the stream's name by
``GenerativeModel.stream``. Two streams of one model never share draws, and
neither do two models with different seeds; nothing is salted by hand.

Two kinds of draw:

- per row (``uniform_rows``, ``normal_rows``): a served request carries one
  integer seed per row, and row ``i`` of the answer depends only on
  ``seeds[i]``, the model's seed, the stream's name and ``step``; the same
  request always gets the same answer, whatever else is in its batch;
- whole (``uniform``, ``normal``): one tensor from the stream alone, the
  same at every call (fixed evaluation noise, say).

``step`` tells apart the draws of one stream made in turn (the blocks of a
Gibbs chain, a layer of a network); it may be a tensor, such as a loop
counter. Seeds are mixed by ``tf.random.experimental.stateless_fold_in``,
a hash, so no two (name, step, row seed) triples share a seed by accident.

Training noise, which must differ from step to step and continue across a
resumed run, is not stateless: it comes from ``GenerativeModel.noise_seed``,
a ``keras.random.SeedGenerator`` whose state is checkpointed.
"""

import zlib

import tensorflow as tf

_fold_in = tf.random.experimental.stateless_fold_in


def name_key(name):
    """A stable 31-bit integer of a stream's name (CRC-32, not ``hash``)."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


class Stream:
    """One named stream of stateless draws of one model.

    Args:
        instance_seed: the model's seed (``config.seed``).
        name: what the draws are for; distinct names give independent draws.
    """

    def __init__(self, instance_seed, name):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a stream needs a non-empty name, got {name!r}")
        self.name = name
        self.instance_seed = int(instance_seed)
        self._key = name_key(name)

    def seed(self, step=0):
        """The stream's stateless seed at ``step``: int64 (2,)."""
        base = tf.constant([self.instance_seed, self._key], tf.int64)
        return _fold_in(base, tf.cast(step, tf.int64))

    def uniform(self, shape, step=0, dtype=tf.float32):
        """Uniform [0, 1) draws of ``shape``, the same at every call."""
        return tf.random.stateless_uniform(shape, seed=self.seed(step),
                                           dtype=dtype)

    def normal(self, shape, step=0, dtype=tf.float32):
        """Standard normal draws of ``shape``, the same at every call."""
        return tf.random.stateless_normal(shape, seed=self.seed(step),
                                          dtype=dtype)

    def uniform_rows(self, seeds, shape, step=0, dtype=tf.float32):
        """Uniform [0, 1) draws, one tensor of ``shape`` per row seed.

        Args:
            seeds: integer tensor (B,), one seed per row.
            shape: the shape of each row's draw.
            step: tells apart successive draws of the stream (int or tensor).
            dtype: floating dtype of the result.

        Returns:
            A tensor (B, *shape); row i depends on ``seeds[i]`` alone.
        """
        return self._rows(tf.random.stateless_uniform, seeds, shape, step,
                          dtype)

    def normal_rows(self, seeds, shape, step=0, dtype=tf.float32):
        """Standard normal draws, one tensor of ``shape`` per row seed.

        Args and Returns are as for ``uniform_rows``.
        """
        return self._rows(tf.random.stateless_normal, seeds, shape, step,
                          dtype)

    def _rows(self, draw, seeds, shape, step, dtype):
        stream_seed = self.seed(step)
        seeds = tf.cast(tf.reshape(seeds, [-1]), tf.int64)
        shape = list(shape)
        return tf.map_fn(
            lambda row: draw(shape, seed=_fold_in(stream_seed, row),
                             dtype=dtype),
            seeds, fn_output_signature=dtype)  # (B, *shape)
