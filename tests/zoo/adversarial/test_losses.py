"""Tests of the GAN losses (Goodfellow et al. 2014; Salimans et al. 2016;
Mao et al. 2017; Arjovsky et al. 2017; Gulrajani et al. 2017).

Each loss is checked against numbers computed by hand in numpy, eagerly and
under tf.function; the saturation of the minimax generator against the
non-saturating one; the optimum of the smoothed discriminator's loss, found
by minimizing it on a 1-D grid, against its closed form, and what two-sided
smoothing does at a spurious mode; the gradient penalty against critics whose
input gradients are known, including its double backpropagation.
"""

import numpy as np
import pytest
import tensorflow as tf

from zoo.adversarial import losses

REAL = np.array([2.0, -1.0, 0.5, 0.0], np.float32)
FAKE = np.array([-3.0, 0.0, 1.5], np.float32)  # a batch of another size

# The losses run eagerly and traced; float32 sums of a few terms agree with
# the float64 numpy references to ~1e-6.
TOLERANCE = 1e-5


def _modes(function):
    """The function run eagerly and under tf.function."""
    return [("eager", function), ("tf.function", tf.function(function))]


def _log_sigmoid(scores):
    return -np.log1p(np.exp(-scores.astype(np.float64)))


def _cross_entropy(target, scores):
    """-(t log D + (1 - t) log(1 - D)), D = sigmoid(scores), in numpy."""
    log_d = _log_sigmoid(scores)
    log_one_minus_d = _log_sigmoid(-scores)
    return -(target * log_d + (1.0 - target) * log_one_minus_d)


def _hand_discriminator_loss(loss, real, fake, real_label, fake_label):
    if loss in ("minimax", "non_saturating"):
        return (_cross_entropy(real_label, real).mean()
                + _cross_entropy(fake_label, fake).mean())
    if loss == "least_squares":
        return (0.5 * np.mean((real - real_label) ** 2)
                + 0.5 * np.mean((fake - fake_label) ** 2))
    return fake.mean() - real.mean()


def _hand_generator_loss(loss, fake, real_label):
    if loss == "minimax":
        return np.mean(np.log1p(-1.0 / (1.0 + np.exp(-fake.astype(np.float64)))))
    if loss == "non_saturating":
        return np.mean(-_log_sigmoid(fake))
    if loss == "least_squares":
        return 0.5 * np.mean((fake - real_label) ** 2)
    return -fake.mean()


LABELS = [(1.0, 0.0), (0.9, 0.0), (0.9, 0.1)]  # none, one- and two-sided


@pytest.mark.parametrize("loss", losses.LOSSES)
@pytest.mark.parametrize("real_label,fake_label", LABELS)
def test_discriminator_loss_matches_hand_computation(loss, real_label,
                                                     fake_label):
    if loss == "wasserstein" and (real_label, fake_label) != (1.0, 0.0):
        with pytest.raises(ValueError, match="real_label"):
            losses.discriminator_loss(loss, REAL, FAKE,
                                      real_label=real_label,
                                      fake_label=fake_label)
        return
    expected = _hand_discriminator_loss(loss, REAL, FAKE, real_label,
                                        fake_label)
    for mode, function in _modes(
            lambda real, fake: losses.discriminator_loss(
                loss, real, fake, real_label=real_label,
                fake_label=fake_label)):
        value = function(tf.constant(REAL), tf.constant(FAKE))
        assert value.shape == ()
        np.testing.assert_allclose(value.numpy(), expected, rtol=TOLERANCE,
                                   atol=TOLERANCE, err_msg=mode)


@pytest.mark.parametrize("loss", losses.LOSSES)
@pytest.mark.parametrize("real_label", [1.0, 0.0])
def test_generator_loss_matches_hand_computation(loss, real_label):
    if loss == "wasserstein" and real_label != 1.0:
        with pytest.raises(ValueError, match="real_label"):
            losses.generator_loss(loss, FAKE, real_label=real_label)
        return
    # real_label moves only the least-squares target c; the cross-entropy
    # generators always aim at D = 1.
    expected = _hand_generator_loss(loss, FAKE, real_label)
    for mode, function in _modes(
            lambda fake: losses.generator_loss(loss, fake,
                                               real_label=real_label)):
        value = function(tf.constant(FAKE))
        assert value.shape == ()
        np.testing.assert_allclose(value.numpy(), expected, rtol=TOLERANCE,
                                   atol=TOLERANCE, err_msg=mode)


@pytest.mark.parametrize("loss", losses.LOSSES)
def test_losses_and_gradients_are_finite_at_confident_scores(loss):
    # exp(100) overflows float32: a naive log(sigmoid) would give inf or nan.
    scores = tf.constant([100.0, -100.0, 0.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(scores)
        d_loss = losses.discriminator_loss(loss, scores, scores)
        g_loss = losses.generator_loss(loss, scores)
    for value in (d_loss, g_loss, tape.gradient(d_loss, scores),
                  tape.gradient(g_loss, scores)):
        assert np.all(np.isfinite(value.numpy()))


def test_minimax_saturates_where_non_saturating_does_not():
    # The discriminator rejects the fake confidently: D = sigmoid(-10).
    score = tf.constant([-10.0])
    slopes = {}
    for loss in ("minimax", "non_saturating"):
        with tf.GradientTape() as tape:
            tape.watch(score)
            value = losses.generator_loss(loss, score)
        slopes[loss] = float(tape.gradient(value, score)[0])
    # d/ds log(1 - sigmoid(s)) = -sigmoid(s) = -4.5e-5: no signal.
    assert abs(slopes["minimax"]) < 1e-3
    np.testing.assert_allclose(slopes["minimax"], -1 / (1 + np.exp(10.0)),
                               rtol=1e-4)
    # d/ds -log sigmoid(s) = -(1 - sigmoid(s)) ~ -1: full signal.
    np.testing.assert_allclose(slopes["non_saturating"], -1.0, atol=1e-4)
    # The same direction: raising D(G(z)) lowers both losses.
    assert slopes["minimax"] < 0 and slopes["non_saturating"] < 0


def test_minimax_and_non_saturating_discriminators_agree():
    np.testing.assert_allclose(
        losses.discriminator_loss("minimax", REAL, FAKE).numpy(),
        losses.discriminator_loss("non_saturating", REAL, FAKE).numpy())


def _gaussian(x, mean, scale):
    return np.exp(-0.5 * ((x - mean) / scale) ** 2)


def _minimize_discriminator_loss(data_counts, model_counts, real_label,
                                 fake_label, num_steps=15):
    """Minimizes the discriminator's loss over one free logit per grid point.

    The densities enter as the empirical distributions of the grid points
    repeated ``counts`` times, so the batch means of ``discriminator_loss``
    are exactly the density-weighted integrals. The loss is a sum of
    independent terms, one per logit, so its Hessian is diagonal: Newton's
    method per point, from D = 1/2, converges monotonically (the gradient
    sigmoid(s) - target is concave on the side of 0 where the root lies).
    """
    data_index = np.repeat(np.arange(len(data_counts)), data_counts)
    model_index = np.repeat(np.arange(len(model_counts)), model_counts)

    def newton_step(logits):
        with tf.GradientTape() as outer:
            outer.watch(logits)
            with tf.GradientTape() as inner:
                inner.watch(logits)
                value = losses.discriminator_loss(
                    "non_saturating", tf.gather(logits, data_index),
                    tf.gather(logits, model_index), real_label=real_label,
                    fake_label=fake_label)
            # Dense: the gradient of a gather comes as IndexedSlices.
            gradient = tf.convert_to_tensor(inner.gradient(value, logits))
            slope_sum = tf.reduce_sum(gradient)
        curvature = outer.gradient(slope_sum, logits)
        # Points without mass have neither: they stay where they are.
        return logits - tf.math.divide_no_nan(gradient, curvature)

    logits = tf.zeros([len(data_counts)], tf.float64)
    for _ in range(num_steps):
        logits = newton_step(logits)
    return tf.sigmoid(logits).numpy()


def test_smoothed_discriminator_optimum_and_spurious_mode():
    # A 1-D grid; the data: two Gaussians; the model: the same two, thinner,
    # and a spurious third mode at x = 4 where the data has no mass.
    grid = np.linspace(-5.0, 6.0, 221)
    p_data = _gaussian(grid, -2.0, 0.6) + _gaussian(grid, 1.0, 0.6)
    p_model = (0.7 * _gaussian(grid, -2.0, 0.4) + 0.7 * _gaussian(grid, 1.0, 0.4)
               + 0.6 * _gaussian(grid, 4.0, 0.3))
    # Integer weights: each batch mean weighs a point by counts / sum(counts).
    data_counts = np.round(40000 * p_data / p_data.sum()).astype(int)
    model_counts = np.round(40000 * p_model / p_model.sum()).astype(int)
    data_density = data_counts / data_counts.sum()
    model_density = model_counts / model_counts.sum()
    spurious = np.argmin(np.abs(grid - 4.0))
    assert data_counts[spurious] == 0 and model_counts[spurious] > 100
    has_mass = (data_counts + model_counts) > 0

    # Our convention: targets real_label on reals and fake_label on fakes.
    # The lecture writes ((1 - alpha) p_data + beta p_model) / (p_data +
    # p_model), alpha the amount smoothed off the real label: real_label =
    # 1 - alpha, fake_label = beta.
    optima = {}
    for name, (real_label, fake_label) in {"one_sided": (0.9, 0.0),
                                           "two_sided": (0.9, 0.1)}.items():
        found = _minimize_discriminator_loss(data_counts, model_counts,
                                             real_label, fake_label)
        closed_form = losses.optimal_discriminator(
            data_density[has_mass], model_density[has_mass],
            real_label=real_label, fake_label=fake_label)
        # Newton has converged to float64 accuracy except where the optimum
        # is 0 (logit -> -inf), reached only to about sigmoid(-num_steps).
        np.testing.assert_allclose(found[has_mass], closed_form, atol=1e-6,
                                   err_msg=name)
        optima[name] = found
    # At the spurious mode the one-sided discriminator says "fake" (D ~ 0);
    # the two-sided one cannot go below beta.
    assert optima["one_sided"][spurious] < 1e-3
    np.testing.assert_allclose(optima["two_sided"][spurious], 0.1, atol=1e-3)
    # So the generator's non-saturating loss on samples there is bounded by
    # -log(beta) ~ 2.3 under two-sided smoothing, against a loss the
    # one-sided discriminator drives without bound: less pressure to move
    # the spurious mass.
    logits = {name: np.log(d[spurious]) - np.log1p(-d[spurious])
              for name, d in optima.items()}
    two_sided = losses.generator_loss("non_saturating",
                                      [logits["two_sided"]]).numpy()
    one_sided = losses.generator_loss("non_saturating",
                                      [logits["one_sided"]]).numpy()
    np.testing.assert_allclose(two_sided, -np.log(0.1), rtol=1e-2)
    assert one_sided > 3 * two_sided


def test_optimal_discriminator_takes_numpy_and_tensors():
    p_data = np.array([0.2, 0.0, 1.0])
    p_model = np.array([0.6, 1.0, 0.0])
    expected = np.array([0.25, 0.0, 1.0])  # p_data / (p_data + p_model)
    np.testing.assert_allclose(
        losses.optimal_discriminator(p_data, p_model), expected)
    np.testing.assert_allclose(
        losses.optimal_discriminator(tf.constant(p_data),
                                     tf.constant(p_model)).numpy(), expected)
    # (0.9 * 0.2 + 0.1 * 0.6) / 0.8 = 0.3
    np.testing.assert_allclose(
        losses.optimal_discriminator(p_data, p_model, real_label=0.9,
                                     fake_label=0.1)[0], 0.3)


RNG = np.random.RandomState(0)
IMAGES_REAL = RNG.normal(size=(3, 2, 2, 1)).astype(np.float32)
IMAGES_FAKE = RNG.normal(size=(3, 2, 2, 1)).astype(np.float32)
MIX = np.array([0.0, 0.3, 1.0], np.float32)  # fake, in between, real


def test_gradient_penalty_of_a_linear_critic():
    # f(x) = sum(w * x) has gradient w everywhere: the penalty is
    # (||w|| - 1)^2 whatever the points.
    weights = RNG.normal(size=(2, 2, 1)).astype(np.float32)
    expected = (np.linalg.norm(weights) - 1.0) ** 2

    def critic(images):
        return tf.reduce_sum(weights * images, axis=[1, 2, 3])  # (B,)

    for mode, function in _modes(
            lambda real, fake, mix: losses.gradient_penalty(critic, real,
                                                            fake, mix)):
        value = function(IMAGES_REAL, IMAGES_FAKE, MIX)
        assert value.shape == ()
        np.testing.assert_allclose(value.numpy(), expected, rtol=TOLERANCE,
                                   err_msg=mode)


def test_gradient_penalty_of_a_quadratic_critic():
    # f(x) = sum(x^2) has gradient 2 x_hat: the penalty depends on each
    # example's own interpolate, so it checks the mix and the per-example norm.
    def critic(images):
        return tf.reduce_sum(tf.square(images), axis=[1, 2, 3])  # (B,)

    mix = MIX[:, None, None, None]
    mixed = mix * IMAGES_REAL + (1 - mix) * IMAGES_FAKE
    norms = np.linalg.norm((2 * mixed).reshape(3, -1), axis=1)
    expected = np.mean((norms - 1.0) ** 2)
    for mode, function in _modes(
            lambda real, fake, mix: losses.gradient_penalty(critic, real,
                                                            fake, mix)):
        value = function(IMAGES_REAL, IMAGES_FAKE, MIX)
        np.testing.assert_allclose(value.numpy(), expected, rtol=TOLERANCE,
                                   err_msg=mode)


def test_gradient_penalty_differentiates_through_the_critic_weights():
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: double backpropagation.
    initial = RNG.normal(size=(2, 2, 1)).astype(np.float32)
    weights = tf.Variable(initial)

    def critic(images):
        return tf.reduce_sum(weights * images, axis=[1, 2, 3])

    def penalty_gradient(real, fake, mix):
        with tf.GradientTape() as tape:
            penalty = losses.gradient_penalty(critic, real, fake, mix)
        return tape.gradient(penalty, weights)

    norm = np.linalg.norm(initial)
    expected = 2 * (norm - 1) * initial / norm
    for mode, function in _modes(penalty_gradient):
        gradient = function(IMAGES_REAL, IMAGES_FAKE, MIX)
        assert gradient is not None, mode
        np.testing.assert_allclose(gradient.numpy(), expected,
                                   rtol=TOLERANCE, atol=TOLERANCE,
                                   err_msg=mode)


def test_gradient_penalty_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="fake"):
        losses.gradient_penalty(lambda x: tf.reduce_sum(x, [1, 2, 3]),
                                IMAGES_REAL, IMAGES_FAKE[:, :1], MIX)


def test_clip_weights():
    variables = [tf.Variable([-2.0, -0.005, 0.3, 5.0]),
                 tf.Variable([[0.001, -0.02]])]
    losses.clip_weights(variables, 0.01)
    np.testing.assert_allclose(variables[0].numpy(),
                               [-0.01, -0.005, 0.01, 0.01])
    np.testing.assert_allclose(variables[1].numpy(), [[0.001, -0.01]])
    for clip in (0.0, -0.01):
        with pytest.raises(ValueError, match="clip"):
            losses.clip_weights(variables, clip)


def test_bad_arguments_raise_naming_them():
    with pytest.raises(ValueError, match="loss='hinge'.*minimax"):
        losses.discriminator_loss("hinge", REAL, FAKE)
    with pytest.raises(ValueError, match="loss='hinge'.*wasserstein"):
        losses.generator_loss("hinge", FAKE)
    with pytest.raises(ValueError, match="fake_label=-0.1"):
        losses.discriminator_loss("minimax", REAL, FAKE, fake_label=-0.1)
    # LSGAN's other coding (a, b, c) = (-1, 1, 0) is legitimate.
    losses.discriminator_loss("least_squares", REAL, FAKE, fake_label=-1.0)
