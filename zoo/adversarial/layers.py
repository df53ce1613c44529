"""Layers of the adversarial family: virtual batch norm, minibatch
discrimination.

Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen (2016), "Improved
Techniques for Training GANs":

- section 3.2, minibatch discrimination: the discriminator sees, beside each
  example's features, how close that example is to the others of its
  minibatch, so that a generator collapsed onto a few points (its samples
  all alike) is easy to tell from data;
- section 3.5, virtual batch normalization: batch normalization in the
  generator makes its output for one code depend on the other codes of the
  minibatch; virtual batch norm normalizes each example with the statistics
  of a fixed reference batch together with the example itself.
"""

import keras
import tensorflow as tf


def _check_positive_int(name, value):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


@keras.saving.register_keras_serializable(package="tfgen.adversarial")
class VirtualBatchNorm(keras.layers.Layer):
    """Virtual batch normalization (Salimans et al. 2016, section 3.5).

    Why: batch normalization normalizes each example with the mean and
    variance of its minibatch, so a generator's output for one code depends
    on the other codes drawn with it; the samples of a minibatch are
    correlated, and a sample changes with the size and content of its
    batch. Virtual batch norm normalizes each example with statistics of a
    reference batch fixed once at the start of training, combined with the
    example's own, so an example's output depends on its own input and the
    reference batch only, never on the rest of its minibatch. It behaves the
    same in training and inference (there are no moving averages).

    How the reference rows are supplied: the layer's input is
    (R + B, ..., C) whose FIRST R = ``reference_size`` rows are the
    activations of the fixed reference batch at this layer. A generator
    prepends its R fixed reference codes to the B codes it is given, runs
    its network (each virtual batch norm layer then finds the reference
    activations in its first rows) and drops the first R rows of its output.
    Gradients flow through the reference statistics, as through batch
    norm's: they are a function of the generator's weights.

    The statistics are per feature (last axis). With ``ref_mean`` and
    ``ref_meansq`` the mean and the mean of squares over the R reference
    rows and all their middle (spatial) axes, and ``own_mean_i``,
    ``own_meansq_i`` those of row i over its middle axes (for a (N, C)
    input, the row's values themselves), row i (reference rows included) is
    normalized with the reference batch plus itself, R + 1 examples:

        mean_i = (R * ref_mean + own_mean_i) / (R + 1)
        meansq_i = (R * ref_meansq + own_meansq_i) / (R + 1)
        var_i = meansq_i - mean_i ** 2
        output_i = gamma * (x_i - mean_i) / sqrt(var_i + epsilon) + beta

    Args:
        reference_size: R, the rows of the reference batch at the input's
            start.
        epsilon: added to the variance before the square root.
        **kwargs: passed to ``keras.layers.Layer``.

    Raises:
        ValueError: ``reference_size`` not a positive integer,
            ``epsilon`` not positive, or an input of rank below 2.
        tf.errors.InvalidArgumentError: (when called) an input with fewer
            than R + 1 rows, so with no example after the reference rows.
    """

    def __init__(self, reference_size, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.reference_size = _check_positive_int("reference_size",
                                                  reference_size)
        if not epsilon > 0:
            raise ValueError(f"epsilon={epsilon!r} must be positive")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"input_shape={tuple(input_shape)}: virtual "
                             "batch norm needs (N, ..., C), rank 2 or more")
        features = int(input_shape[-1])
        self.gamma = self.add_weight(shape=(features,), initializer="ones",
                                     name="gamma")
        self.beta = self.add_weight(shape=(features,), initializer="zeros",
                                    name="beta")

    def call(self, inputs):
        size = self.reference_size
        tf.debugging.assert_greater_equal(
            tf.shape(inputs)[0], size + 1,
            message=(f"VirtualBatchNorm(reference_size={size}) needs the "
                     f"{size} reference rows first and at least one example "
                     "after them"))
        input_dtype = inputs.dtype
        # Statistics in float32 even under mixed precision, as batch norm's.
        inputs = tf.cast(inputs, tf.float32)
        middle_axes = list(range(1, len(inputs.shape) - 1))
        reference = inputs[:size]  # (R, ..., C)
        ref_mean = tf.reduce_mean(reference, axis=[0] + middle_axes,
                                  keepdims=True)  # (1, 1.., C)
        ref_variance = tf.reduce_mean(tf.square(reference - ref_mean),
                                      axis=[0] + middle_axes, keepdims=True)
        if middle_axes:
            own_mean = tf.reduce_mean(inputs, axis=middle_axes,
                                      keepdims=True)  # (N, 1.., C)
            own_variance = tf.reduce_mean(tf.square(inputs - own_mean),
                                          axis=middle_axes, keepdims=True)
        else:
            own_mean, own_variance = inputs, tf.zeros_like(inputs)  # (N, C)
        mean = (size * ref_mean + own_mean) / (size + 1)
        # meansq - mean**2 written as the variance of a mixture of the
        # reference (weight R) and the row (weight 1): the same number
        # without the cancellation that costs float32 digits when the mean
        # is large against the spread.
        variance = (
            size * (ref_variance + tf.square(ref_mean - mean))
            + own_variance + tf.square(own_mean - mean)) / (size + 1)
        gamma = tf.cast(self.gamma, tf.float32)
        beta = tf.cast(self.beta, tf.float32)
        scale = gamma * tf.math.rsqrt(variance + self.epsilon)
        outputs = (inputs - mean) * scale + beta  # (N, ..., C)
        return tf.cast(outputs, input_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(reference_size=self.reference_size,
                      epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="tfgen.adversarial")
class MinibatchDiscrimination(keras.layers.Layer):
    """Minibatch discrimination (Salimans et al. 2016, section 3.2).

    A discriminator that looks at one example at a time cannot see that a
    generator's samples are all alike (mode collapse); this layer gives it,
    for each example, features measuring how close it is to the other
    examples of its minibatch. With f (N, A) the features of an
    intermediate layer and T a trainable (A, num_kernels * kernel_dim)
    tensor:

        M = f T, reshaped (N, num_kernels, kernel_dim)
        c_b(i, j) = exp(-||M_i,b - M_j,b||_1)
        o(i)_b = sum_{j != i} c_b(i, j)

    and the output is [f, o], (N, A + num_kernels). Each o(i)_b lies in
    (0, N - 1]: N - 1, its maximum, when every example is the same (a
    collapsed batch), smaller the more the examples differ. The self term
    c_b(i, i) = 1 carries no information and is left out.

    The pairwise differences take N**2 * num_kernels * kernel_dim numbers;
    fine for minibatches of up to about 256 examples (256**2 * 100 * 5
    float32 is 131 MB), quadratic beyond.

    Args:
        num_kernels: B, the minibatch features per example.
        kernel_dim: C, the dimension each example is projected to per
            kernel.
        kernel_initializer: T's initializer; the paper's code draws it
            from N(0, 0.05**2).
        **kwargs: passed to ``keras.layers.Layer``.

    Raises:
        ValueError: ``num_kernels`` or ``kernel_dim`` not a positive
            integer, or an input not of rank 2.
    """

    def __init__(self, num_kernels, kernel_dim, kernel_initializer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_kernels = _check_positive_int("num_kernels", num_kernels)
        self.kernel_dim = _check_positive_int("kernel_dim", kernel_dim)
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.RandomNormal(stddev=0.05)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    @staticmethod
    def output_width(input_width, num_kernels):
        """A + num_kernels: the output's features for A input features."""
        return int(input_width) + int(num_kernels)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"input_shape={tuple(input_shape)}: minibatch "
                             "discrimination needs features (N, A)")
        self.kernel = self.add_weight(
            shape=(int(input_shape[-1]), self.num_kernels * self.kernel_dim),
            initializer=self.kernel_initializer, name="kernel")

    def call(self, inputs):
        kernel = tf.cast(self.kernel, inputs.dtype)
        projected = tf.reshape(tf.matmul(inputs, kernel),
                               [-1, self.num_kernels, self.kernel_dim])
        # (N, 1, K, D) - (1, N, K, D): every pair of examples.
        differences = projected[:, None] - projected[None, :]  # (N, N, K, D)
        closeness = tf.exp(-tf.reduce_sum(tf.abs(differences), axis=-1))
        others = 1.0 - tf.eye(tf.shape(inputs)[0], dtype=inputs.dtype)
        closeness = closeness * others[:, :, None]  # (N, N, K), no j == i
        minibatch_features = tf.reduce_sum(closeness, axis=1)  # (N, K)
        return tf.concat([inputs, minibatch_features], axis=-1)

    def compute_output_shape(self, input_shape):
        width = input_shape[-1]
        if width is not None:
            width = self.output_width(width, self.num_kernels)
        return (input_shape[0], width)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_kernels=self.num_kernels, kernel_dim=self.kernel_dim,
            kernel_initializer=keras.initializers.serialize(
                self.kernel_initializer))
        return config
