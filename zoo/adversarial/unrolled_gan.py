"""The unrolled GAN: a generator that looks ahead at the discriminator.

Metz, Poole, Pfau & Sohl-Dickstein (2017), "Unrolled Generative Adversarial
Networks". With f(theta_G, theta_D) the GAN's value, the ideal generator
minimizes f(theta_G, theta_D*(theta_G)) against the discriminator that is
optimal for it, which is out of reach; the usual GAN minimizes
f(theta_G, theta_D) against the current discriminator, as though it would
not react. The unrolled GAN takes K steps of the discriminator's own
optimizer between the two (section 2.2),

    theta_D^0 = theta_D,   theta_D^{k+1} = theta_D^k + eta df/dtheta_D^k,
    f_K(theta_G, theta_D) = f(theta_G, theta_D^K(theta_G, theta_D)),

and the generator descends f_K, differentiated through the K steps (section
2.3):

    df_K/dtheta_G = df/dtheta_G (theta_D^K fixed)
                    + df/dtheta_D^K . dtheta_D^K/dtheta_G.

The second term is the one that matters: it says how the discriminator
would answer a change of the generator. A generator that piles its samples
on one mode gains now but is punished K steps later, when the discriminator
has learned to reject that mode; the term lets it see that punishment
coming, which is why the unrolled GAN covers the modes of a mixture that
the plain GAN collapses onto one by one (section 3.1). With K = 0 the
objective is the plain GAN's. The term needs the derivative of each
discriminator step with respect to theta_G, a second derivative of f
(Hessian-vector products, through nested tapes here).

Only the generator's objective looks ahead: the discriminator still takes
its ordinary step (``base.GAN.discriminator_step``), and the unrolled copies
theta_D^1..K are discarded after each generator update. The steps are
those of the discriminator's real optimizer (``unrolling.LookAheadOptimizer``:
Adam or SGD), continued from its current slots and step count, as in the
paper's code. The K steps and the final loss use one batch: the step's real
batch and the generator's batch G(z) for the same codes z, the paper code's
choice. f_K is then one function of theta_G, whose gradient is exact for
that batch; fresh noise per step would cost K more generator passes and add
variance to a look-ahead meant to model the discriminator's response to
this generator.

Players: the MLP GAN's (``zoo.adversarial.gan``). The discriminator is
evaluated at the unrolled parameters with Keras's ``stateless_call``, which
cannot carry batch-norm statistics across the look-ahead's steps, so a
discriminator with batch norm is refused (layer norm and minibatch
discrimination are fine), as is the gradient penalty (a third derivative).
"""

import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from zoo.adversarial import base
from zoo.adversarial import gan_config
from zoo.adversarial import gan
from zoo.adversarial import losses
from zoo.adversarial import unrolling


def get_config(variant=None):
    """Returns the unrolled GAN's locked config.

    ``python -m tfgen.train --model=unrolled_gan`` trains on ``digits``
    (pixels in [-1, 1]) for 100 epochs (2,000 steps of each player) with
    K = 5 look-ahead steps in about two minutes on 2 CPU cores, evaluation
    and export included; its samples are digit-like strokes of every
    shape. Each generator step costs K forward and backward passes of the
    discriminator more than the MLP GAN's, and their second derivatives.
    For the paper's mode-coverage experiment in the plane:
    ``--dataset=ring8 --config.preprocessing=identity``. The players are the
    paper's for that experiment (section 3.1): a generator with two hidden
    layers of 128 ReLU units, a discriminator with one of 128 (LeakyReLU
    here).

    Args:
        variant: ``None`` for the default; ``"tiny"`` for the small, one-epoch
            version that tests and CI use (K = 2).

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("unrolled_gan", variant)
    config = gan_config.common_config(unrolling_steps=5)  # K of section 2.2
    config.discriminator_units = (128,)
    if variant == "tiny":
        gan_config.make_tiny(config, unrolling_steps=2)
    config.lock()
    return config


def validate(config):
    """Raises ``UsageError`` naming a field the look-ahead cannot follow."""
    config_lib.require_positive(config, ("unrolling_steps",))
    if config.discriminator_normalization == "batch":
        raise errors.UsageError(
            "config.discriminator_normalization='batch': the look-ahead "
            "evaluates the discriminator statelessly and cannot carry batch "
            "statistics across its steps; use 'layer' or 'none'")
    if config.gradient_penalty:
        raise errors.UsageError(
            f"config.gradient_penalty={config.gradient_penalty}: the "
            "look-ahead does not unroll the penalty (its gradient through "
            "the steps is a third derivative); use weight_clip or 0")
    unrolling.check_optimizer_entry(
        config.optimizers[base.DISCRIMINATOR],
        f"config.optimizers.{base.DISCRIMINATOR}")


@registry.register("unrolled_gan", family="adversarial",
                   get_config=get_config,
                   paper="Metz et al. 2017 (unrolled discriminator steps)")
class UnrolledGAN(gan.MLPGAN):
    """An MLP GAN whose generator descends the K-step unrolled objective.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo`` of the data modelled.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is bad, or one the look-ahead cannot
            follow (batch norm in the discriminator, a gradient penalty, a
            discriminator optimizer other than Adam or SGD).
    """

    model_name = "unrolled_gan"

    def __init__(self, config, data_info, **kwargs):
        validate(config)
        super().__init__(config, data_info, **kwargs)
        self.unrolling_steps = int(config.unrolling_steps)

    def score_at(self, params, examples, labels=None):
        """D's raw output (B,) with its trainable weights set to ``params``.

        Args:
            params: tensors in the order of
                ``discriminator.trainable_variables``.
            examples: (B, *event_shape).
            labels: (B,) class labels of a conditional model, or None.
        """
        conditions = self.conditions(labels)
        inputs = examples if conditions is None else [examples, conditions]
        scores, _ = self.discriminator.stateless_call(
            params, list(self.discriminator.non_trainable_variables), inputs,
            training=True)  # (B, 1)
        return tf.squeeze(scores, -1)

    def distribution_problem(self):
        return ("the unrolled discriminator steps are updates within a step, "
                "made on this replica's part of the batch alone")

    def unrolled_discriminator(self, real, fake, labels=None, steps=None):
        """theta_D^K: K steps of D's optimizer on its loss, as tensors.

        Starts from D's weights and its optimizer's slots now; writes no
        variable. ``fake`` is not stop-gradiented: the result depends on
        the generator through it. Under a distribution strategy each
        replica looks ahead on its own share of the batch.

        Args:
            real: (B, *event_shape), the step's real batch.
            fake: (B, *event_shape), the generator's batch.
            labels: (B,) labels of a conditional model, or None.
            steps: K; ``config.unrolling_steps`` by default.

        Returns:
            The list of D's unrolled trainable weights.
        """
        variables = list(self.discriminator.trainable_variables)
        look_ahead = unrolling.LookAheadOptimizer(
            self.optimizers[base.DISCRIMINATOR], variables)
        config = self.config

        def discriminator_loss(params):
            # base.GAN.discriminator_objective, at params.
            return losses.discriminator_loss(
                config.loss, self.score_at(params, real, labels),
                self.score_at(params, fake, labels),
                real_label=config.real_label, fake_label=config.fake_label)

        return unrolling.unroll(
            discriminator_loss, variables, look_ahead,
            self.unrolling_steps if steps is None else steps,
            clip=config.weight_clip)

    def generator_objective(self, codes, labels, real):
        """f_K: the generator's loss against D unrolled K steps ahead.

        Args:
            codes: (B, latent_dim).
            labels: (B,) labels of a conditional model, or None.
            real: (B, *event_shape), the real batch the unrolled
                discriminator trains on.

        Returns:
            The scalar generator loss at theta_D^K on the same fake batch.
        """
        fake = self.generate(codes, labels, training=True)
        params = self.unrolled_discriminator(real, fake, labels)
        return losses.generator_loss(
            self.config.loss, self.score_at(params, fake, labels),
            real_label=self.config.real_label)
