"""Virtual batch norm and minibatch discrimination (Salimans et al. 2016):
values against numpy, and the properties each layer exists for."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.adversarial import layers

# float32 layers against float64 numpy on values of order 1.
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def run(layer, inputs, compiled):
    """The layer's output, eagerly or traced by tf.function."""
    call = tf.function(layer) if compiled else layer
    return call(tf.constant(inputs, tf.float32)).numpy()


# --- Virtual batch norm. ---


def virtual_batch_norm_numpy(inputs, reference_size, gamma, beta, epsilon):
    """Salimans et al. (2016), section 3.5, one row at a time."""
    inputs = inputs.astype(np.float64)
    middle = tuple(range(1, inputs.ndim - 1))
    reference = inputs[:reference_size]
    ref_mean = reference.mean(axis=(0,) + middle)  # (C,)
    ref_meansq = np.square(reference).mean(axis=(0,) + middle)
    outputs = np.empty_like(inputs)
    for i, row in enumerate(inputs):
        row_axes = tuple(axis - 1 for axis in middle)
        own_mean = row.mean(axis=row_axes)  # (C,)
        own_meansq = np.square(row).mean(axis=row_axes)
        mean = (reference_size * ref_mean + own_mean) / (reference_size + 1)
        meansq = (reference_size * ref_meansq + own_meansq) / (
            reference_size + 1)
        variance = meansq - mean ** 2
        outputs[i] = gamma * (row - mean) / np.sqrt(variance + epsilon) + beta
    return outputs


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 3)])
def test_virtual_batch_norm_matches_numpy(shape, compiled):
    rng = np.random.default_rng(0)
    inputs = rng.normal(1.0, 2.0, shape).astype(np.float32)
    layer = layers.VirtualBatchNorm(2, epsilon=1e-3)
    layer.build(shape)
    ones, zeros = np.ones(3), np.zeros(3)
    np.testing.assert_allclose(
        run(layer, inputs, compiled),
        virtual_batch_norm_numpy(inputs, 2, ones, zeros, 1e-3), **TOLERANCE)
    gamma = np.array([0.5, -2.0, 3.0], np.float32)
    beta = np.array([1.0, 0.0, -0.25], np.float32)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    np.testing.assert_allclose(
        run(layer, inputs, compiled),
        virtual_batch_norm_numpy(inputs, 2, gamma, beta, 1e-3), **TOLERANCE)


def test_an_example_does_not_depend_on_the_rest_of_its_batch():
    """The reason for virtual batch norm: example x, with the same reference
    rows, gives the same output whatever companions (and how many) share
    its batch; batch norm's output for x changes with them."""
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(3, 2, 2, 4)).astype(np.float32)
    example = rng.normal(size=(1, 2, 2, 4)).astype(np.float32)
    companions = rng.normal(2.0, 3.0, size=(5, 2, 2, 4)).astype(np.float32)
    batch_one = np.concatenate([reference, example, companions[:1]])
    batch_two = np.concatenate([reference, companions[1:], example])

    layer = layers.VirtualBatchNorm(3)
    output_one, output_two = layer(batch_one), layer(batch_two)
    # The same float32 operations on the same values: equal to rounding.
    np.testing.assert_allclose(output_one[3], output_two[-1], atol=1e-6)
    np.testing.assert_allclose(output_one[:3], output_two[:3], atol=1e-6)
    np.testing.assert_allclose(layer(batch_one, training=True),
                               layer(batch_one, training=False), atol=1e-6)
    assert not layer.non_trainable_weights  # no moving averages

    batch_norm = keras.layers.BatchNormalization()
    norm_one = batch_norm(batch_one, training=True).numpy()
    norm_two = batch_norm(batch_two, training=True).numpy()
    assert np.max(np.abs(norm_one[3] - norm_two[-1])) > 0.1


def test_the_reference_rows_set_the_statistics():
    rng = np.random.default_rng(2)
    example = rng.normal(size=(1, 4)).astype(np.float32)
    reference = rng.normal(size=(3, 4)).astype(np.float32)
    layer = layers.VirtualBatchNorm(3)
    output = layer(np.concatenate([reference, example]))[-1]
    moved = layer(np.concatenate([2.0 * reference + 1.0, example]))[-1]
    assert np.max(np.abs(output - moved)) > 0.1


def test_gradients_reach_gamma_beta_and_the_input():
    """d/dgamma sum(w * y) = sum(w * x_hat) and d/dbeta = sum(w), summed
    over rows and middle axes; the input's gradient is that of the
    hand-written layer, by finite differences."""
    rng = np.random.default_rng(3)
    inputs = tf.constant(rng.normal(size=(4, 2, 3)), tf.float32)
    weights = tf.constant(rng.normal(size=(4, 2, 3)), tf.float32)
    layer = layers.VirtualBatchNorm(2)
    layer.build(inputs.shape)
    layer.gamma.assign([2.0, 0.5, -1.0])
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_sum(weights * layer(inputs))
    grad_gamma, grad_beta, grad_inputs = tape.gradient(
        loss, [layer.gamma, layer.beta, inputs])
    normalized = virtual_batch_norm_numpy(inputs.numpy(), 2, np.ones(3),
                                          np.zeros(3), layer.epsilon)
    np.testing.assert_allclose(
        grad_gamma, np.sum(weights.numpy() * normalized, axis=(0, 1)),
        **TOLERANCE)
    np.testing.assert_allclose(grad_beta, np.sum(weights, axis=(0, 1)),
                               **TOLERANCE)
    # The input's gradient against central differences of the float64
    # numpy layer (step 1e-5: truncation error ~1e-10, far below float32's).
    gamma = layer.gamma.numpy().astype(np.float64)

    def numpy_loss(values):
        return np.sum(weights.numpy() * virtual_batch_norm_numpy(
            values, 2, gamma, np.zeros(3), layer.epsilon))
    numeric = np.zeros(inputs.shape)
    for index in np.ndindex(*inputs.shape):
        step = np.zeros(inputs.shape)
        step[index] = 1e-5
        numeric[index] = (numpy_loss(inputs.numpy() + step)
                          - numpy_loss(inputs.numpy() - step)) / 2e-5
    np.testing.assert_allclose(grad_inputs, numeric, rtol=1e-4, atol=1e-4)
    assert np.all(np.abs(numeric) > 1e-3)  # every input reaches the loss


def test_virtual_batch_norm_config_round_trip():
    layer = layers.VirtualBatchNorm(3, epsilon=1e-3, name="vbn")
    inputs = np.random.default_rng(4).normal(size=(5, 2)).astype(np.float32)
    layer.build(inputs.shape)
    layer.gamma.assign([2.0, 3.0])
    copy = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(copy, layers.VirtualBatchNorm)
    assert (copy.reference_size, copy.epsilon, copy.name) == (3, 1e-3, "vbn")
    assert copy.built  # serialize records the build shape
    copy.set_weights(layer.get_weights())
    np.testing.assert_array_equal(copy(inputs), layer(inputs))


@pytest.mark.parametrize("compiled", [False, True])
def test_too_few_rows_for_the_reference_batch_is_an_error(compiled):
    layer = layers.VirtualBatchNorm(4)
    call = layer
    if compiled:  # the batch size is known only when the function runs
        call = tf.function(layer, input_signature=[
            tf.TensorSpec([None, 2], tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="reference_size=4"):
        call(tf.zeros([4, 2]))
    assert call(tf.zeros([5, 2])).shape == (5, 2)


def test_virtual_batch_norm_bad_arguments():
    with pytest.raises(ValueError, match="reference_size=0"):
        layers.VirtualBatchNorm(0)
    with pytest.raises(ValueError, match="epsilon=0"):
        layers.VirtualBatchNorm(2, epsilon=0.0)
    with pytest.raises(ValueError, match="rank 2"):
        layers.VirtualBatchNorm(2).build((5,))


# --- Minibatch discrimination. ---


def minibatch_features_numpy(inputs, kernel, num_kernels, kernel_dim):
    """Salimans et al. (2016), section 3.2, with the self term left out."""
    projected = (inputs.astype(np.float64) @ kernel).reshape(
        len(inputs), num_kernels, kernel_dim)
    features = np.zeros((len(inputs), num_kernels))
    for i in range(len(inputs)):
        for j in range(len(inputs)):
            if j != i:
                distance = np.abs(projected[i] - projected[j]).sum(axis=-1)
                features[i] += np.exp(-distance)
    return features


def build_minibatch_layer(inputs, num_kernels, kernel_dim, kernel):
    layer = layers.MinibatchDiscrimination(num_kernels, kernel_dim)
    layer.build(inputs.shape)
    layer.kernel.assign(kernel)
    return layer


@pytest.mark.parametrize("compiled", [False, True])
def test_minibatch_features_by_hand(compiled):
    """Kernel 0 projects f to (f0, f1), kernel 1 to (2 f1, 2 f0): the L1
    distances are those of f, doubled for kernel 1. Rows 0, 1, 2 are 1, 2
    and 3 apart (0-1, 0-2, 1-2)."""
    inputs = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], np.float32)
    kernel = np.array([[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 2.0, 0.0]],
                      np.float32)
    layer = build_minibatch_layer(inputs, 2, 2, kernel)
    e = np.exp
    expected = np.array([[e(-1) + e(-2), e(-2) + e(-4)],
                         [e(-1) + e(-3), e(-2) + e(-6)],
                         [e(-2) + e(-3), e(-4) + e(-6)]])
    outputs = run(layer, inputs, compiled)
    assert outputs.shape == (3, layers.MinibatchDiscrimination.output_width(
        2, 2))
    np.testing.assert_allclose(outputs[:, 2:], expected, **TOLERANCE)
    np.testing.assert_array_equal(outputs[:, :2], inputs)


@pytest.mark.parametrize("compiled", [False, True])
def test_minibatch_features_match_numpy(compiled):
    rng = np.random.default_rng(5)
    inputs = rng.normal(size=(6, 4)).astype(np.float32)
    kernel = rng.normal(0.0, 0.3, size=(4, 3 * 2)).astype(np.float32)
    layer = build_minibatch_layer(inputs, 3, 2, kernel)
    np.testing.assert_allclose(
        run(layer, inputs, compiled)[:, 4:],
        minibatch_features_numpy(inputs, kernel, 3, 2), **TOLERANCE)


def test_an_example_features_depend_on_the_other_examples():
    rng = np.random.default_rng(6)
    inputs = rng.normal(size=(4, 3)).astype(np.float32)
    layer = layers.MinibatchDiscrimination(5, 2,
                                           kernel_initializer="glorot_normal")
    outputs = layer(inputs).numpy()
    others_changed = inputs.copy()
    others_changed[1:] = rng.normal(size=(3, 3))
    changed = layer(others_changed).numpy()
    np.testing.assert_array_equal(outputs[:, :3], inputs)
    np.testing.assert_array_equal(changed[0, :3], outputs[0, :3])
    assert np.max(np.abs(changed[0, 3:] - outputs[0, 3:])) > 1e-2


def cross_example_gradients(network, inputs):
    """max |d output_i / d input_j| over i != j, and over i == j."""
    inputs = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = network(inputs)  # (N, 1)
    jacobian = tape.jacobian(outputs, inputs).numpy()[:, 0]  # (N, N, A)
    per_pair = np.abs(jacobian).max(axis=-1)  # (N, N)
    same = np.eye(len(per_pair), dtype=bool)
    return per_pair[~same].max(), per_pair[same].min()


def test_the_discriminator_sees_the_other_examples():
    """Through minibatch discrimination, D's output for example i moves
    with example j; a plain per-example network's does not at all."""
    keras.utils.set_random_seed(7)
    inputs = np.random.default_rng(7).normal(size=(4, 3)).astype(np.float32)
    features = keras.Input((3,))
    hidden = keras.layers.Dense(4)(features)
    with_minibatch = keras.Model(features, keras.layers.Dense(1)(
        layers.MinibatchDiscrimination(3, 2)(hidden)))
    plain = keras.Model(features, keras.layers.Dense(1)(hidden))

    across, own = cross_example_gradients(with_minibatch, inputs)
    assert across > 1e-4 and own > 1e-4
    across, own = cross_example_gradients(plain, inputs)
    assert across == 0.0 and own > 1e-4


def test_a_collapsed_batch_gives_the_largest_features():
    """N identical examples give o = N - 1 for every kernel, the maximum;
    distinct examples give less: the signal that tells D the generator has
    collapsed."""
    rng = np.random.default_rng(8)
    layer = layers.MinibatchDiscrimination(4, 3,
                                           kernel_initializer="glorot_normal")
    collapsed = np.tile(rng.normal(size=(1, 5)), (6, 1)).astype(np.float32)
    spread = rng.normal(size=(6, 5)).astype(np.float32)
    np.testing.assert_allclose(layer(collapsed)[:, 5:], np.full((6, 4), 5.0),
                               rtol=1e-6)
    spread_features = layer(spread).numpy()[:, 5:]
    assert np.all(spread_features < 5.0)
    assert np.mean(spread_features) < 4.0


def test_minibatch_discrimination_config_round_trip():
    layer = layers.MinibatchDiscrimination(
        3, 2, kernel_initializer=keras.initializers.RandomNormal(stddev=0.2),
        name="minibatch")
    inputs = np.random.default_rng(9).normal(size=(4, 5)).astype(np.float32)
    layer.build(inputs.shape)
    copy = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(copy, layers.MinibatchDiscrimination)
    assert (copy.num_kernels, copy.kernel_dim, copy.name) == (
        3, 2, "minibatch")
    assert copy.kernel_initializer.get_config()["stddev"] == 0.2
    assert copy.built  # serialize records the build shape
    copy.set_weights(layer.get_weights())
    np.testing.assert_array_equal(copy(inputs), layer(inputs))
    assert copy.compute_output_shape((None, 5)) == (None, 8)


def test_minibatch_discrimination_bad_arguments():
    with pytest.raises(ValueError, match="num_kernels=0"):
        layers.MinibatchDiscrimination(0, 2)
    with pytest.raises(ValueError, match="kernel_dim=1.5"):
        layers.MinibatchDiscrimination(2, 1.5)
    with pytest.raises(ValueError, match=r"\(N, A\)"):
        layers.MinibatchDiscrimination(2, 2).build((4, 3, 2))
