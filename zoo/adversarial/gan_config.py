"""The adversarial family's config: its fields, its tiny variant, its checks.

``common_config`` holds the fields every GAN of ``zoo.adversarial`` shares
(each model file adds its own and locks it); ``validate`` names the field
of a bad config. The players' names, ``GENERATOR`` and ``DISCRIMINATOR``,
are those of ``config.optimizers``.
"""

import ml_collections

from tfgen import config as config_lib
from tfgen import errors
from tfgen import optimizers as optimizers_lib
from zoo.adversarial import losses
from zoo.adversarial import networks

GENERATOR = "generator"
DISCRIMINATOR = "discriminator"

GENERATOR_NORMALIZATIONS = ("none", "batch", "virtual")
DISCRIMINATOR_NORMALIZATIONS = ("none", "batch", "layer")
# How the two players' steps interleave (config.updates).
UPDATES = ("alternating", "simultaneous")

# The output activation that puts a generated example in the data's range.
OUTPUT_ACTIVATIONS = {"symmetric": "tanh", "unit": "sigmoid",
                       "identity": None}


def common_config(**fields):
    """Returns the family's unlocked config; a model overrides and locks it.

    Args:
        **fields: the model's own fields, added to the config.
    """
    config = config_lib.base_config(
        architecture="mlp",  # networks.ARCHITECTURES
        latent_dim=32,
        # mlp: the hidden widths of each network.
        generator_units=(128, 128),
        discriminator_units=(128, 128),
        # mlp: hidden activations (networks.MLP_ACTIVATIONS) and initial
        # weights (networks.MLP_INITIALIZERS) of each player.
        generator_activation="relu",
        discriminator_activation="leaky_relu",
        mlp_initializer="glorot_uniform",
        # conv: filters of the generator's last hidden map and the
        # discriminator's first; times the generator doubles the image's
        # sides (the discriminator halves them as often).
        filters=32,
        num_upsamplings=2,
        loss="non_saturating",  # losses.LOSSES
        discriminator_steps=1,  # per generator step (k of Algorithm 1)
        updates="alternating",  # UPDATES
        # Targets of the discriminator's cross-entropy: real_label < 1 is
        # one-sided label smoothing; fake_label > 0 smooths the fakes too.
        real_label=1.0,
        fake_label=0.0,
        gradient_penalty=0.0,  # lambda of WGAN-GP; 0: none
        weight_clip=0.0,  # WGAN's clipping of the critic; 0: none
        generator_normalization="none",
        discriminator_normalization="none",
        reference_batch_size=32,  # of virtual batch norm
        minibatch_kernels=0,  # of minibatch discrimination; 0: none
        minibatch_kernel_dim=5,
        **fields)
    config.preprocessing = "symmetric"
    config.epochs = 100
    config.optimizers = ml_collections.ConfigDict({
        GENERATOR: optimizers_lib.optimizer_config("adam", 2e-4, beta_1=0.5),
        DISCRIMINATOR: optimizers_lib.optimizer_config("adam", 2e-4,
                                                       beta_1=0.5)})
    return config


def make_tiny(config, **fields):
    """Turns a GAN config into its ``"tiny"`` variant, in place: a 4-D code
    and players of 8 units (mlp) or 4 filters (conv), as tests and CI use;
    ``fields`` set the model's own (``tfgen.config.make_tiny``).

    Returns:
        The same config.
    """
    return config_lib.make_tiny(
        config, **{"latent_dim": 4, "generator_units": (8,),
                   "discriminator_units": (8,), "filters": 4, **fields})


def _check_choice(config, name, choices):
    if config[name] not in choices:
        raise errors.UsageError(f"config.{name}={config[name]!r} is not one "
                                f"of {', '.join(choices)}")


def validate(config, data_info):
    """Raises ``UsageError`` naming the field of a bad GAN config."""
    config_lib.validate(config)
    _check_choice(config, "architecture", networks.ARCHITECTURES)
    _check_choice(config, "loss", losses.LOSSES)
    for name in ("generator_activation", "discriminator_activation"):
        _check_choice(config, name, networks.MLP_ACTIVATIONS)
    _check_choice(config, "mlp_initializer", networks.MLP_INITIALIZERS)
    _check_choice(config, "updates", UPDATES)
    _check_choice(config, "generator_normalization", GENERATOR_NORMALIZATIONS)
    _check_choice(config, "discriminator_normalization",
                  DISCRIMINATOR_NORMALIZATIONS)
    config_lib.require_positive(config, (
        "latent_dim", "filters", "num_upsamplings", "discriminator_steps",
        "reference_batch_size", "minibatch_kernel_dim"))
    config_lib.require_non_negative(config, ("minibatch_kernels",))
    for name in ("generator_units", "discriminator_units"):
        if any(int(width) < 1 for width in config[name]):
            raise errors.UsageError(
                f"config.{name}={tuple(config[name])} must be positive")
    if config.updates == "simultaneous" and config.discriminator_steps != 1:
        raise errors.UsageError(
            f"config.updates='simultaneous' moves both players on every "
            f"step: config.discriminator_steps="
            f"{config.discriminator_steps} needs 'alternating'")
    for name in ("gradient_penalty", "weight_clip"):
        if config[name] < 0:
            raise errors.UsageError(
                f"config.{name}={config[name]} must not be negative")
    if not 0 <= config.fake_label < config.real_label <= 1:
        raise errors.UsageError(
            f"config.fake_label={config.fake_label} and config.real_label="
            f"{config.real_label} must satisfy 0 <= fake_label < real_label "
            "<= 1")
    if config.loss == "wasserstein" and (config.real_label != 1
                                         or config.fake_label != 0):
        raise errors.UsageError(
            "config.loss='wasserstein' has no labels to smooth: leave "
            "config.real_label=1 and config.fake_label=0")
    if config.gradient_penalty and config.discriminator_normalization == \
            "batch":
        # The penalty is on each example's gradient, which batch norm
        # couples to the rest of its batch (Gulrajani et al. 2017, 4).
        raise errors.UsageError(
            "config.gradient_penalty > 0 needs a discriminator without batch "
            "norm: set config.discriminator_normalization to 'layer' or "
            "'none'")
    activations = OUTPUT_ACTIVATIONS
    if config.preprocessing not in activations:
        raise errors.UsageError(
            f"config.preprocessing={config.preprocessing!r}: a GAN models "
            f"{', '.join(activations)} data")
    if data_info.is_image == (config.preprocessing == "identity"):
        wanted = "'unit' or 'symmetric'" if data_info.is_image else \
            "'identity'"
        raise errors.UsageError(
            f"config.preprocessing={config.preprocessing!r} does not fit "
            f"config.dataset={config.dataset!r}: use {wanted}")
    if config.architecture == "conv":
        if not data_info.is_image:
            raise errors.UsageError(
                f"config.architecture='conv' needs images; "
                f"config.dataset={config.dataset!r} holds points: use 'mlp'")
        try:
            networks.upsampling_start(data_info.event_shape,
                                      config.num_upsamplings)
        except ValueError as error:
            raise errors.UsageError(str(error)) from None
