"""Configs of the Boltzmann family's RBMs, and their validation.

``common_config`` holds the fields that ``rbm`` and ``gaussian_rbm`` share;
``get_config`` is the Bernoulli RBM's (module ``rbm``), ``gaussian_rbm``
builds its own from the same fields.
"""

from tfgen import config as config_lib
from tfgen import errors
from tfgen.optimizers import optimizer_config

TRAINING = ("cd", "pcd")  # config.training


def common_config(**fields):
    """The fields both RBMs share; the caller sets the rest and locks."""
    return config_lib.base_config(
        num_hidden=128,
        training="cd",  # 'cd' (Hinton 2002) or 'pcd' (Tieleman 2008)
        cd_steps=1,  # k: Gibbs steps of each negative phase
        num_chains=100,  # PCD's persistent chains, whatever the batch size
        # 0: one update per batch. n > 0: train_step splits each batch into
        # minibatches of n images, one update each, in one compiled loop, so
        # Keras's per-step cost falls on the batch rather than on each small
        # update (see RBM.train_step).
        minibatch_size=0,
        weight_decay=1e-4,  # L2 on the weights, not on the biases
        sample_gibbs_steps=1000,  # of the sample capability's chain
        ais_chains=200,  # of the log Z estimate
        ais_betas=5000,
        **fields)


def shrink_to_tiny(config):
    """The test-sized variant: a few units, one epoch, short chains."""
    config.num_hidden = 8
    config.num_chains = 6
    config.epochs = 1
    config.sample_gibbs_steps = 5
    config.num_grid_samples = 16
    config.sample_quality = False
    config.parzen_samples = 0
    config.ais_chains = 16
    config.ais_betas = 20


def get_config(variant=None):
    """Returns the Bernoulli-Bernoulli RBM's locked config.

    ``python -m tfgen.train --model=rbm`` trains on ``digits`` (1,257
    training images, dynamically binarized) with CD-1 for 60 epochs,
    estimates log Z by AIS (200 chains, 5,000 betas, about 8 s), evaluates
    and exports in about 50 s on 2 CPU cores, end to end. Expected on the
    360 test images: -log p(x) about 22.6 nats (22.61 at seed 0, 23.05 at
    seed 1; independent pixels: 27.2 nats), log Z stderr about 0.01 nats;
    a run of 1,000 chains and 20,000 betas agrees within 0.015 nats.
    ``--config.training=pcd`` reaches about 23.6 nats in the same 60 epochs
    and 22.8 in 120.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("rbm", variant)
    config = common_config()
    config.preprocessing = "binarize_dynamic"
    config.batch_size = 20
    config.epochs = 60
    # SGD with momentum (Hinton 2010, section 9).
    config.optimizers.model = optimizer_config("sgd", 0.05, momentum=0.5)
    if variant == "tiny":
        shrink_to_tiny(config)
    config.lock()
    return config


def validate(config, preprocessings):
    """Raises ``UsageError`` naming the field of a bad RBM config."""
    config_lib.validate(config)
    if config.preprocessing not in preprocessings:
        raise errors.UsageError(
            f"config.preprocessing={config.preprocessing!r}: this RBM models "
            f"{' or '.join(preprocessings)} data")
    if config.training not in TRAINING:
        raise errors.UsageError(
            f"config.training={config.training!r} is not one of "
            f"{', '.join(TRAINING)}")
    for name in ("num_hidden", "cd_steps", "num_chains",
                 "sample_gibbs_steps"):
        if config[name] < 1:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be positive")
    if config.weight_decay < 0.0:
        raise errors.UsageError(
            f"config.weight_decay={config.weight_decay} must be non-negative")
    if config.minibatch_size < 0:
        raise errors.UsageError(
            f"config.minibatch_size={config.minibatch_size} must be 0 (one "
            "update per batch) or positive")
    for name in ("ais_chains", "ais_betas"):
        if config[name] < 2:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be at least 2")
