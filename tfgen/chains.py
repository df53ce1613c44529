"""Sequential loops, run inside the graph: sampling chains and minibatches.

Every sampler of the zoo is a chain: a state that ``num_steps`` steps update
in turn (Gibbs sweeps of a Boltzmann machine, the pixels of an
autoregressive model drawn one after the other, the temperatures of
annealed importance sampling). ``run_chain`` runs one as a
``tf.while_loop``, so that an exported SavedModel runs the whole chain for a
single request and a server returns finished samples.

Noise comes in blocks: ``noise(block)`` draws the noise of ``block_size``
consecutive steps at once, and step t reads its slice ``t % block_size``
along axis 1. A seeded request's per-row draws (``tfgen.rng``) cost a pass
over the rows each, so drawing them one step at a time would dominate a
long chain of small steps; drawing all of them at once would hold the whole
chain's noise in memory. The block size is the trade between the two.

``for_each_minibatch`` is the other loop: many small updates on slices of
one batch, in one ``train_step``.
"""

import tensorflow as tf


def _slice(noise, index):
    return tf.nest.map_structure(lambda tensor: tensor[:, index], noise)


def run_chain(state, num_steps, step, noise=None, block_size=1):
    """Runs ``state = step(t, state, noise_t)`` for t = 0 .. num_steps - 1.

    Args:
        state: a tensor or nested structure of tensors, the chain's start.
            Shapes must stay fixed from step to step.
        num_steps: a Python int or an int scalar tensor.
        step: ``step(t, state, noise_t)`` returns the next state; ``t`` is
            an int64 scalar tensor, ``noise_t`` the step's slice of its
            block's noise (None without ``noise``).
        noise: ``noise(block)`` returns a tensor or nested structure of
            tensors, each with ``block_size`` steps along axis 1 (rows
            first): the noise of steps ``block * block_size`` onwards;
            ``block`` is an int64 scalar tensor. Steps past ``num_steps``
            in the last block are never read.
        block_size: steps per block of noise, a Python int >= 1.

    Returns:
        The state after the last step (``state`` itself when num_steps is
        0).

    Raises:
        ValueError: ``block_size`` is below 1.
    """
    block_size = int(block_size)
    if block_size < 1:
        raise ValueError(f"block_size={block_size} must be at least 1")
    num_steps = tf.cast(num_steps, tf.int64)

    if noise is None:
        _, state = tf.while_loop(
            lambda t, _: t < num_steps,
            lambda t, state: (t + 1, step(t, state, None)),
            (tf.constant(0, tf.int64), state))
        return state

    def block(t, state):
        block_noise = noise(t // block_size)
        stop = tf.minimum(t + block_size, num_steps)

        def inner(t, state):
            return t + 1, step(t, state, _slice(block_noise, t % block_size))

        return tf.while_loop(lambda t, _: t < stop, inner, (t, state))

    _, state = tf.while_loop(lambda t, _: t < num_steps, block,
                             (tf.constant(0, tf.int64), state))
    return state


def for_each_minibatch(data, minibatch_size, update):
    """Calls ``update(index, minibatch)`` on consecutive slices, in a loop.

    Many small updates per ``train_step``: Keras's per-step cost then falls
    on the batch rather than on each update, which is what bounds models of
    tiny minibatches (an RBM's, Hinton 2010 suggests 10 to 100 examples) on
    a CPU.

    Args:
        data: a tensor or nested structure of tensors, rows first.
        minibatch_size: rows per update, a Python int >= 1; the last
            minibatch holds the rest (it may be smaller).
        update: ``update(index, minibatch)``, run for its effects (variable
            assignments); ``index`` is an int32 scalar tensor, ``minibatch``
            the rows ``index * minibatch_size`` onwards, as ``data``.

    Returns:
        ``(num_minibatches, last)``: an int32 scalar tensor and the last
        minibatch, for metrics.

    Raises:
        ValueError: ``minibatch_size`` is below 1.
    """
    minibatch_size = int(minibatch_size)
    if minibatch_size < 1:
        raise ValueError(f"minibatch_size={minibatch_size} must be at least 1")
    rows = tf.shape(tf.nest.flatten(data)[0])[0]
    num_minibatches = (rows + minibatch_size - 1) // minibatch_size

    def rows_of(index):
        return tf.nest.map_structure(
            lambda tensor: tensor[index * minibatch_size:
                                  (index + 1) * minibatch_size], data)

    def body(index):
        update(index, rows_of(index))
        return (index + 1,)

    tf.while_loop(lambda index: index < num_minibatches, body,
                  (tf.constant(0),))
    return num_minibatches, rows_of(num_minibatches - 1)
