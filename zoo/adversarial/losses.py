"""Losses of generative adversarial networks, as pure TensorFlow functions.

A discriminator (or critic) D scores real images x ~ p_data and generated
images G(z); the two players minimize the losses below in turn. Scores are
the raw outputs of the network: logits for the cross-entropy losses, critic
values for the Wasserstein loss, regression outputs for least squares. Every
loss is a mean over each batch.

``minimax`` (Goodfellow et al. 2014, "Generative Adversarial Nets"): the
discriminator minimizes the binary cross-entropy of telling real from fake,

    L_D = E_data[-log D(x)] + E_z[-log(1 - D(G(z)))],   D = sigmoid(score),

and the generator minimizes the other side of the same value function,
L_G = E_z[log(1 - D(G(z)))]. Early in training the discriminator rejects
fakes confidently, D(G(z)) ~ 0, where log(1 - D) is flat: the generator's
gradient vanishes (d L_G / d score = -D(G(z))).

``non_saturating`` (Goodfellow et al. 2014, section 3): the same
discriminator, but the generator minimizes L_G = E_z[-log D(G(z))], which has
the same fixed point and a gradient of -(1 - D(G(z))) ~ -1 where the minimax
one vanishes.

``least_squares`` (Mao et al. 2017, "Least Squares Generative Adversarial
Networks"): with targets a for fakes, b for reals and c for the generator,

    L_D = 1/2 E_data[(D(x) - b)^2] + 1/2 E_z[(D(G(z)) - a)^2],
    L_G = 1/2 E_z[(D(G(z)) - c)^2].

Here b = ``real_label``, a = ``fake_label`` and c = the generator's
``real_label``; the defaults (a, b, c) = (0, 1, 1) are the paper's
"0-1 coding". Scores need not lie in [0, 1] (the paper's other choice is
a = -1, b = 1, c = 0).

``wasserstein`` (Arjovsky et al. 2017, "Wasserstein GAN"): the critic f
maximizes E_data[f(x)] - E_z[f(G(z))], an estimate of the Wasserstein-1
distance when f is 1-Lipschitz, so it minimizes L_D = E_z[f(G(z))] -
E_data[f(x)] and the generator minimizes L_G = -E_z[f(G(z))]. The Lipschitz
constraint comes from ``clip_weights`` (Arjovsky et al.) or from
``gradient_penalty`` (Gulrajani et al. 2017, "Improved Training of
Wasserstein GANs").

Label smoothing (Salimans et al. 2016, "Improved Techniques for Training
GANs", section 3.4): the cross-entropy discriminator is trained towards
targets ``real_label`` on reals and ``fake_label`` on fakes. Its pointwise
optimum is then

    D*(x) = (real_label p_data(x) + fake_label p_model(x))
            / (p_data(x) + p_model(x))

(``optimal_discriminator``). ``real_label < 1`` with ``fake_label = 0`` is
one-sided label smoothing, the recommended kind: it stops the discriminator
from growing overconfident on reals. ``fake_label > 0`` is two-sided
smoothing, which Salimans et al. warn against: where p_data ~ 0 but the model
puts mass (a spurious mode), D* ~ fake_label > 0 instead of 0, so the
discriminator no longer pushes the generator's samples out of that region.
"""

import tensorflow as tf

LOSSES = ("minimax", "non_saturating", "least_squares", "wasserstein")

# The losses whose scores are logits of a Bernoulli "real" probability.
_CROSS_ENTROPY = ("minimax", "non_saturating")


def _check_loss(loss):
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not one of {LOSSES}")


def _check_labels(loss, real_label, fake_label):
    """Checks that the targets make sense for ``loss``."""
    if loss == "wasserstein" and (real_label != 1.0 or fake_label != 0.0):
        # A critic's scores are unbounded: there is no target to smooth.
        raise ValueError(
            f"real_label={real_label} and fake_label={fake_label}: the "
            "wasserstein loss has no labels; leave them at 1.0 and 0.0")
    if loss in _CROSS_ENTROPY:
        for name, label in (("real_label", real_label),
                            ("fake_label", fake_label)):
            # Outside [0, 1] the cross-entropy is unbounded below.
            if not 0.0 <= label <= 1.0:
                raise ValueError(f"{name}={label} must lie in [0, 1] for "
                                 f"the {loss} loss")


def discriminator_loss(loss, real_scores, fake_scores, *, real_label=1.0,
                       fake_label=0.0):
    """Returns the scalar loss the discriminator (or critic) minimizes.

    Args:
        loss: one of ``LOSSES``. ``minimax`` and ``non_saturating`` share the
            discriminator's cross-entropy; they differ in the generator's.
        real_scores: (B,) raw discriminator outputs on real images: logits
            for the cross-entropy losses, critic values for ``wasserstein``,
            regression outputs for ``least_squares``.
        fake_scores: (B',) raw discriminator outputs on generated images.
        real_label: the target on reals (b in LSGAN). Below 1 it is
            one-sided label smoothing (Salimans et al. 2016).
        fake_label: the target on fakes (a in LSGAN). Above 0 it is
            two-sided smoothing, which Salimans et al. warn against.

    Returns:
        A scalar: the mean over the real batch plus the mean over the fake
        batch (least squares: half of each).

    Raises:
        ValueError: an unknown ``loss``; labels other than the defaults for
            ``wasserstein``; labels outside [0, 1] for the cross-entropy
            losses.
    """
    _check_loss(loss)
    _check_labels(loss, real_label, fake_label)
    real_scores = tf.convert_to_tensor(real_scores)
    fake_scores = tf.convert_to_tensor(fake_scores, dtype=real_scores.dtype)
    if loss in _CROSS_ENTROPY:
        # -(a log D + (1 - a) log(1 - D)) with D = sigmoid(score), computed
        # from the logits so that confident scores (|s| ~ 100) stay finite.
        real_term = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.fill(tf.shape(real_scores),
                           tf.constant(real_label, real_scores.dtype)),
            logits=real_scores)
        fake_term = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.fill(tf.shape(fake_scores),
                           tf.constant(fake_label, fake_scores.dtype)),
            logits=fake_scores)
        return tf.reduce_mean(real_term) + tf.reduce_mean(fake_term)
    if loss == "least_squares":
        return (0.5 * tf.reduce_mean(tf.square(real_scores - real_label))
                + 0.5 * tf.reduce_mean(tf.square(fake_scores - fake_label)))
    # wasserstein: the critic maximizes E_data[f] - E_z[f].
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)


def generator_loss(loss, fake_scores, *, real_label=1.0):
    """Returns the scalar loss the generator minimizes.

    Args:
        loss: one of ``LOSSES``.
        fake_scores: (B,) raw discriminator outputs on generated images.
        real_label: the target c the generator pushes its scores towards in
            ``least_squares``. The cross-entropy generators aim at D = 1
            whatever the discriminator's targets (label smoothing regularizes
            the discriminator only), so they ignore it; ``wasserstein`` has
            no labels and requires the default.

    Returns:
        A scalar, the mean over the batch of:
        minimax: log(1 - D) = -softplus(score), which saturates where the
            discriminator rejects confidently;
        non_saturating: -log D = softplus(-score);
        least_squares: 1/2 (score - real_label)^2;
        wasserstein: -score.

    Raises:
        ValueError: an unknown ``loss``, or ``real_label`` other than 1.0
            for ``wasserstein``.
    """
    _check_loss(loss)
    if loss == "wasserstein" and real_label != 1.0:
        raise ValueError(f"real_label={real_label}: the wasserstein loss "
                         "has no labels; leave it at 1.0")
    fake_scores = tf.convert_to_tensor(fake_scores)
    if loss == "minimax":
        # log(1 - sigmoid(s)) = -softplus(s), finite for any s.
        return -tf.reduce_mean(tf.nn.softplus(fake_scores))
    if loss == "non_saturating":
        # -log sigmoid(s) = softplus(-s).
        return tf.reduce_mean(tf.nn.softplus(-fake_scores))
    if loss == "least_squares":
        return 0.5 * tf.reduce_mean(tf.square(fake_scores - real_label))
    return -tf.reduce_mean(fake_scores)


def gradient_penalty(critic, real, fake, mix):
    """Returns the WGAN-GP penalty of Gulrajani et al. (2017).

    The penalty is E[(||grad_x f(x_hat)||_2 - 1)^2] on points x_hat =
    mix * real + (1 - mix) * fake drawn uniformly on the segments between
    real and generated images, where the optimal critic has gradients of
    norm 1. The inner gradient is taken with its own tape, so an outer tape
    differentiates the penalty with respect to the critic's weights (double
    backpropagation).

    The gradient of the summed scores is each example's own gradient only if
    the critic treats examples independently: no batch normalization in the
    critic (Gulrajani et al. use layer normalization).

    Args:
        critic: callable mapping (B, ...) images to (B,) scores.
        real: (B, ...) real images.
        fake: (B, ...) generated images, the shape of ``real``.
        mix: (B,) interpolation weights, uniform in [0, 1]; broadcast over
            the event axes.

    Returns:
        A scalar, the mean over the batch.

    Raises:
        ValueError: ``real`` of rank below 2, or ``fake`` of another shape.
    """
    real = tf.convert_to_tensor(real)
    fake = tf.convert_to_tensor(fake, dtype=real.dtype)
    if real.shape.rank is None or real.shape.rank < 2:
        raise ValueError(f"real of shape {real.shape} needs a batch axis "
                         "and event axes")
    if not real.shape.is_compatible_with(fake.shape):
        raise ValueError(f"fake of shape {fake.shape} differs from real of "
                         f"shape {real.shape}")
    event_axes = list(range(1, real.shape.rank))
    mix = tf.reshape(tf.cast(mix, real.dtype),
                     [-1] + [1] * len(event_axes))  # (B, 1, ..., 1)
    mixed = mix * real + (1.0 - mix) * fake  # (B, ...)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed)  # (B,)
    gradients = tape.gradient(
        scores, mixed,
        unconnected_gradients=tf.UnconnectedGradients.ZERO)  # (B, ...)
    # The epsilon keeps the norm's own gradient finite where the critic's
    # gradient is exactly zero (d sqrt(u)/du is infinite at 0); it moves the
    # norm by at most 1e-6.
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=event_axes)
                    + 1e-12)  # (B,)
    return tf.reduce_mean(tf.square(norms - 1.0))


def clip_weights(variables, clip):
    """Clips each variable to [-clip, clip] in place (Arjovsky et al. 2017).

    WGAN keeps its critic in a compact set of weights, hence Lipschitz, by
    clipping every weight after each update.

    Args:
        variables: iterable of ``tf.Variable``, the critic's weights.
        clip: the bound, positive (0.01 in the paper).

    Raises:
        ValueError: ``clip`` not positive.
    """
    if not clip > 0:
        raise ValueError(f"clip={clip} must be positive")
    for variable in variables:
        variable.assign(tf.clip_by_value(variable, -clip, clip))


def optimal_discriminator(p_data, p_model, *, real_label=1.0, fake_label=0.0):
    """Returns the D(x) minimizing the discriminator's cross-entropy pointwise.

    At each x the discriminator's expected loss is
    p_data(x) CE(real_label, D) + p_model(x) CE(fake_label, D), minimized by

        D*(x) = (real_label p_data + fake_label p_model) / (p_data + p_model),

    which is p_data / (p_data + p_model) without smoothing (Goodfellow et
    al. 2014, Proposition 1) and the smoothed optimum of Salimans et al.
    (2016, section 3.4) otherwise.

    Args:
        p_data: densities of the data, numpy or TensorFlow, any shape.
        p_model: densities of the model, the same shape.
        real_label: the target on reals.
        fake_label: the target on fakes.

    Returns:
        D*, the shape and kind of the inputs.
    """
    return ((real_label * p_data + fake_label * p_model)
            / (p_data + p_model))
