"""The generator and discriminator networks of the adversarial family.

Two architectures, chosen by ``config.architecture``:

- ``mlp``: fully connected networks, as in Goodfellow et al. (2014),
  "Generative Adversarial Nets", and the two-dimensional experiments of
  Metz et al. (2017); the only choice for data that are not images.
- ``conv``: the DCGAN of Radford, Metz & Chintala (2016), "Unsupervised
  Representation Learning with Deep Convolutional Generative Adversarial
  Networks", on their guidelines: no pooling (strided convolutions in the
  discriminator, fractionally strided ones in the generator), no hidden
  fully connected layers beyond the generator's projection of the code and
  the discriminator's flattening, ReLU in the generator, LeakyReLU (slope
  0.2) in the discriminator, and normalization (when configured) everywhere
  except the generator's output and the discriminator's input, weights
  drawn from N(0, 0.02).

The builders work on Keras functional tensors; the GAN base
(``zoo.adversarial.base``) adds the output activation, the optional
minibatch discrimination and the discriminator's final linear unit, and
chooses the normalization layers (``normalize``: a callable returning a new
layer, or None for none).
"""

import math

import keras

ARCHITECTURES = ("mlp", "conv")

# DCGAN's initialization (Radford et al. 2016, section 4).
_DCGAN_INIT_STDDEV = 0.02

# The slope of LeakyReLU's negative side in every discriminator.
LEAKY_SLOPE = 0.2

# Hidden activations and initial weights the MLP players may use: the
# unrolled-GAN paper's two-dimensional experiments use tanh units and
# orthogonal weights (gain 1.4); a ReLU generator there spreads its samples
# in a broad cloud instead of placing them on the modes.
MLP_ACTIVATIONS = ("relu", "leaky_relu", "tanh")
MLP_INITIALIZERS = ("glorot_uniform", "orthogonal")
_ORTHOGONAL_GAIN = 1.4


def _activation(name):
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE)
    return keras.layers.Activation(name)


def _initializer(name):
    if name == "orthogonal":
        return keras.initializers.Orthogonal(gain=_ORTHOGONAL_GAIN)
    return name


def upsampling_start(image_shape, num_upsamplings):
    """The (height, width) the conv generator starts from.

    Args:
        image_shape: (H, W, C) of the data.
        num_upsamplings: times the generator doubles height and width.

    Returns:
        ``(H / 2**n, W / 2**n)``.

    Raises:
        ValueError: H or W is not divisible by 2**n.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    factor = 2 ** int(num_upsamplings)
    if height % factor or width % factor:
        raise ValueError(
            f"config.num_upsamplings={num_upsamplings}: the {height}x{width} "
            f"images must be divisible by {factor} on both sides")
    return height // factor, width // factor


def _normalized(tensor, normalize):
    return tensor if normalize is None else normalize()(tensor)


def mlp_generator(codes, event_shape, units, normalize, activation="relu",
                  initializer="glorot_uniform"):
    """Codes (B, D) to pre-activation outputs (B, *event_shape).

    Args:
        codes: functional tensor (B, D): the latent code (and conditioning).
        event_shape: the shape of one example.
        units: widths of the hidden layers.
        normalize: normalization layer factory, or None.
        activation: of the hidden layers, one of ``MLP_ACTIVATIONS``.
        initializer: of every layer's weights, one of ``MLP_INITIALIZERS``.
    """
    hidden = codes
    for width in units:
        hidden = keras.layers.Dense(
            int(width), kernel_initializer=_initializer(initializer))(hidden)
        hidden = _normalized(hidden, normalize)
        hidden = _activation(activation)(hidden)
    outputs = keras.layers.Dense(
        math.prod(event_shape),
        kernel_initializer=_initializer(initializer))(hidden)
    return keras.layers.Reshape(tuple(event_shape))(outputs)


def mlp_discriminator_features(inputs, conditions, units, normalize,
                               activation="leaky_relu",
                               initializer="glorot_uniform"):
    """Examples (B, *event) (and conditions (B, K)) to features (B, F).

    The conditioning features are concatenated to the flattened example, as
    in Mirza & Osindero (2014). ``activation`` and ``initializer`` as for
    ``mlp_generator``.
    """
    hidden = keras.layers.Flatten()(inputs)
    if conditions is not None:
        hidden = keras.layers.Concatenate()([hidden, conditions])
    for width in units:
        hidden = keras.layers.Dense(
            int(width), kernel_initializer=_initializer(initializer))(hidden)
        hidden = _normalized(hidden, normalize)
        hidden = _activation(activation)(hidden)
    return hidden


def _dcgan_init():
    return keras.initializers.RandomNormal(stddev=_DCGAN_INIT_STDDEV)


def conv_generator(codes, image_shape, filters, num_upsamplings, normalize):
    """Codes (B, D) to pre-activation images (B, H, W, C), DCGAN's way.

    The code is projected to a (H / 2**n, W / 2**n, filters * 2**(n-1))
    map, then each of n fractionally strided 4x4 convolutions doubles the
    height and width and halves the filters; the last gives C channels.

    Args:
        codes: functional tensor (B, D).
        image_shape: (H, W, C).
        filters: filters of the last hidden map (doubled per level below).
        num_upsamplings: n, at least 1.
        normalize: normalization layer factory, or None.
    """
    height, width = upsampling_start(image_shape, num_upsamplings)
    depth = int(filters) * 2 ** (int(num_upsamplings) - 1)
    hidden = keras.layers.Dense(height * width * depth,
                                kernel_initializer=_dcgan_init())(codes)
    hidden = keras.layers.Reshape((height, width, depth))(hidden)
    hidden = _normalized(hidden, normalize)
    hidden = keras.layers.ReLU()(hidden)  # (B, H/2^n, W/2^n, depth)
    for level in range(int(num_upsamplings) - 1):
        depth //= 2
        hidden = keras.layers.Conv2DTranspose(
            depth, 4, strides=2, padding="same",
            kernel_initializer=_dcgan_init())(hidden)
        hidden = _normalized(hidden, normalize)
        hidden = keras.layers.ReLU()(hidden)
    return keras.layers.Conv2DTranspose(
        int(image_shape[-1]), 4, strides=2, padding="same",
        kernel_initializer=_dcgan_init())(hidden)  # (B, H, W, C)


def conv_discriminator_features(images, conditions, filters, num_downsamplings,
                                normalize):
    """Images (B, H, W, C) (and conditions (B, K)) to features (B, F).

    n strided 4x4 convolutions, each halving height and width and doubling
    the filters from ``filters``; no normalization on the first (DCGAN).
    Conditioning features are broadcast as extra input channels.
    """
    hidden = images
    if conditions is not None:
        height, width = int(images.shape[1]), int(images.shape[2])
        planes = keras.layers.RepeatVector(height * width)(conditions)
        planes = keras.layers.Reshape(
            (height, width, int(conditions.shape[-1])))(planes)
        hidden = keras.layers.Concatenate()([hidden, planes])
    depth = int(filters)
    for level in range(int(num_downsamplings)):
        hidden = keras.layers.Conv2D(depth, 4, strides=2, padding="same",
                                     kernel_initializer=_dcgan_init())(hidden)
        if level:
            hidden = _normalized(hidden, normalize)
        hidden = keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(hidden)
        depth *= 2
    return keras.layers.Flatten()(hidden)
