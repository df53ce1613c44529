"""Tests of the general Boltzmann machine (Ackley, Hinton & Sejnowski 1985).

The maths is checked against brute-force enumeration written here in numpy
(the energy as a sum over pairs i < j, so the 1/2 convention is checked too),
against the RBM free energy of ``zoo.boltzmann.energy`` when the lateral
weights are zero, against the learning rule's closed form on hand-made
samples (and the closed form against automatic differentiation), against
exact probabilities for Gibbs sampling and AIS, and a step under a
two-replica ``MirroredStrategy`` against the same step on one device.
"""

import itertools
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

import zoo  # noqa: F401  (fills the registry)
from tfgen import errors
from tfgen import registry
from tfgen.data.info import DataInfo
from zoo.boltzmann import boltzmann_machine as bm
from zoo.boltzmann import energy as rbm_energy
from zoo.boltzmann import fully_connected


def _info(image_shape):
    return DataInfo(name="mock", event_shape=image_shape, num_levels=2,
                    num_classes=10)


def _model(image_shape=(2, 2, 1), learning_rate=None, **fields):
    config = bm.get_config("tiny")
    for name, value in fields.items():
        setattr(config, name, value)  # locked: existing fields only
    if learning_rate is not None:
        config.optimizers.model.learning_rate = learning_rate
    keras.utils.set_random_seed(0)
    model = bm.BoltzmannMachine(config, _info(image_shape))
    model.compile_for_training()
    return model


def _random_parameters(model, scale, seed, zero_lateral=False):
    """Gives the model random symmetric couplings and biases; returns them."""
    rng = np.random.RandomState(seed)
    n, v = model.num_units, model.num_visible
    upper = np.triu(rng.normal(scale=scale, size=(n, n)), k=1)
    weights = (upper + upper.T).astype(np.float32)
    if zero_lateral:
        weights[:v, :v] = 0.0
        weights[v:, v:] = 0.0
    bias = rng.normal(scale=0.5, size=n).astype(np.float32)
    model.coupling.assign(weights)
    model.bias.assign(bias)
    return weights, bias


def _all_binary(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)),
                    dtype=np.float64)


def _brute_force_log_probs(weights, bias, num_visible):
    """log p(v) for every v (in itertools order), from the joint by pairs."""
    n = len(bias)
    states = _all_binary(n)  # (2^N, N)
    pairs = sum(weights[i, j] * states[:, i] * states[:, j]
                for i in range(n) for j in range(i + 1, n))
    log_joint = pairs + states @ bias  # -E(x), each pair counted once
    log_joint -= np.logaddexp.reduce(log_joint)
    # itertools order puts the visible units' bits most significant.
    per_visible = log_joint.reshape(2**num_visible, -1)
    return np.logaddexp.reduce(per_visible, axis=1)  # (2^V,)


def test_log_prob_with_no_lateral_weights_is_the_rbm_likelihood():
    model = _model(image_shape=(2, 3, 1), num_hidden=5)  # V + H = 11
    weights, bias = _random_parameters(model, 1.0, seed=1, zero_lateral=True)
    v = model.num_visible
    visible = _all_binary(v).astype(np.float32)
    rbm_free_energy = rbm_energy.free_energy(
        visible, weights[:v, v:], bias[:v], bias[v:]).numpy()
    rbm_log_probs = (-rbm_free_energy
                     - np.logaddexp.reduce(-rbm_free_energy.astype(np.float64)))
    log_probs = model.log_prob(visible.reshape(-1, 2, 3, 1))["log_prob"]
    np.testing.assert_allclose(log_probs, rbm_log_probs, rtol=0, atol=1e-4)


def test_log_prob_is_normalized_and_matches_brute_force():
    model = _model(image_shape=(5, 1, 1), num_hidden=4)
    weights, bias = _random_parameters(model, 1.0, seed=2)
    visible = _all_binary(5).astype(np.float32).reshape(-1, 5, 1, 1)
    log_probs = model.log_prob(visible)["log_prob"].numpy()
    # float32 sums over 2^9 states: agreement to about 1e-5 relative.
    np.testing.assert_allclose(np.logaddexp.reduce(log_probs.astype(
        np.float64)), 0.0, atol=1e-5)
    np.testing.assert_allclose(
        log_probs, _brute_force_log_probs(weights, bias, 5), atol=1e-4)
    # The free energy capability is the unnormalized part.
    free = model.free_energy(visible)["free_energy"].numpy()
    np.testing.assert_allclose(-free - log_probs,
                               (-free - log_probs)[0], atol=1e-4)


def test_encode_gives_the_exact_hidden_marginals():
    model = _model(image_shape=(3, 1, 1), num_hidden=3)
    weights, bias = _random_parameters(model, 1.0, seed=3)
    image = np.array([1.0, 0.0, 1.0], np.float32)
    hidden = _all_binary(3)
    states = np.concatenate([np.tile(image, (8, 1)), hidden], axis=1)
    log_joint = 0.5 * np.einsum("bi,ij,bj->b", states, weights, states) + (
        states @ bias)
    posterior = np.exp(log_joint - np.logaddexp.reduce(log_joint))
    codes = model.encode(image.reshape(1, 3, 1, 1))["codes"].numpy()[0]
    np.testing.assert_allclose(codes, posterior @ hidden, atol=1e-5)


def test_gradient_is_the_learning_rule_on_hand_made_samples():
    model = _model(image_shape=(2, 1, 1), num_hidden=2)
    _random_parameters(model, 0.3, seed=4)
    clamped = np.array([[1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 0]],
                       np.float32)
    free = np.array([[0, 0, 1, 0], [1, 1, 1, 1]], np.float32)
    grad_coupling, grad_bias = fully_connected.learning_rule_gradients(
        clamped, free)
    statistic = clamped.T @ clamped / 3 - free.T @ free / 2  # (N, N)
    off_diagonal = 1 - np.eye(4)
    np.testing.assert_allclose(grad_coupling, -0.5 * statistic * off_diagonal,
                               atol=1e-6)
    np.testing.assert_allclose(
        grad_bias, -(clamped.mean(0) - free.mean(0)), atol=1e-6)

    # One SGD step (momentum starts at zero): dW = lr / 2 (<xx'>_d - <xx'>_m).
    before = model.coupling.numpy()
    model.build_for_training()
    model.apply_gradients([grad_coupling, grad_bias],
                          [model.coupling, model.bias])
    learning_rate = model.config.optimizers.model.learning_rate
    np.testing.assert_allclose(
        model.coupling.numpy() - before,
        learning_rate / 2 * statistic * off_diagonal, atol=1e-6)


def test_closed_form_learning_rule_is_the_objectives_gradient():
    # An unprojected coupling matrix (asymmetric, non-zero diagonal): the
    # closed form must also be the gradient through the projection that
    # the energy applies to the stored matrix.
    model = _model(image_shape=(3, 1, 1), num_hidden=2)
    random_state = np.random.RandomState(10)
    model.coupling.assign(random_state.normal(size=(5, 5)))
    model.bias.assign(random_state.normal(size=5))
    clamped, free = ((random_state.uniform(size=(rows, 5)) < 0.5).astype(
        np.float32) for rows in (6, 4))
    with tf.GradientTape() as tape:
        loss = fully_connected.learning_objective(clamped, free,
                                                  *model.parameters())
    expected = tape.gradient(loss, [model.coupling, model.bias])
    got = fully_connected.learning_rule_gradients(clamped, free)
    for name, value, reference in zip(("coupling", "bias"), got, expected):
        np.testing.assert_allclose(value, reference, atol=1e-6,
                                   err_msg=name)


# Two logical CPUs must be set before TensorFlow starts: a fresh process.
_MIRRORED = """
import sys
sys.path.insert(0, {repo!r})
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
import zoo
from tfgen.data.info import DataInfo
from zoo.boltzmann import boltzmann_machine as bm

# Gibbs noise that does not depend on how the batch is split: every unit
# takes its more probable state, on one device as on each replica.
keras.random.uniform = lambda shape, *args, **kwargs: tf.fill(shape, 0.5)
info = DataInfo(name="mock", event_shape=(2, 2, 1), num_levels=2,
                num_classes=1)
random_state = np.random.RandomState(0)
coupling = random_state.normal(scale=0.5, size=(8, 8)).astype(np.float32)
bias = random_state.normal(size=8).astype(np.float32)
images = (random_state.uniform(size=(8, 2, 2, 1)) < 0.5).astype(np.float32)
batches = tf.data.Dataset.from_tensor_slices(
    {{"image": images, "label": np.zeros(8, np.int64)}}).batch(8)


def step(strategy):
    with strategy.scope():
        config = bm.get_config("tiny")
        config.optimizers.model.learning_rate = 0.5
        model = bm.BoltzmannMachine(config, info)
        model.compile_for_training()
        model.build_for_training()
    model.coupling.assign(coupling)
    model.bias.assign(bias)
    model.fit(batches, epochs=1, verbose=0)  # one step on the 8 images
    return model.coupling.numpy(), model.bias.numpy()


single = step(tf.distribute.get_strategy())
mirrored = step(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
start = bm.fully_connected.symmetric_zero_diagonal(coupling).numpy()
print(float(np.abs(single[0] - start).max()),
      float(np.abs(mirrored[0] - single[0]).max()),
      float(np.abs(mirrored[1] - single[1]).max()))
"""


def test_a_mirrored_step_is_the_single_device_step_on_the_global_batch():
    # Two replicas of 4 images each: each replica's gradient is the mean
    # over its half, and the two are summed, so without the division by the
    # number of replicas the step would be twice the single-device one.
    script = _MIRRORED.format(
        repo=str(pathlib.Path(__file__).resolve().parents[3]))
    completed = subprocess.run([sys.executable, "-c", script],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    moved, coupling_gap, bias_gap = (
        float(value)
        for value in completed.stdout.strip().splitlines()[-1].split())
    assert moved > 0.05  # the step is not trivially zero
    assert coupling_gap < 1e-6 and bias_gap < 1e-6, (coupling_gap, bias_gap)


def test_training_keeps_couplings_symmetric_with_zero_diagonal():
    model = _model(image_shape=(4, 4, 1), num_hidden=3, learning_rate=0.5)
    images = (np.random.RandomState(5).uniform(size=(16, 4, 4, 1)) < 0.3)
    batch = {"image": tf.constant(images, tf.float32),
             "label": tf.zeros([16], tf.int64)}
    before = model.coupling.numpy()
    for _ in range(10):
        logs = model.train_step(batch)
    weights = model.coupling.numpy()
    assert np.all(np.isfinite(weights)) and not np.allclose(weights, before)
    np.testing.assert_array_equal(weights, weights.T)
    np.testing.assert_array_equal(np.diag(weights), 0.0)
    assert np.isfinite(float(logs["loss"]))


def _visible_index(visible_bits):
    """Index of each binary row in itertools order (first bit most significant)."""
    powers = 2 ** np.arange(visible_bits.shape[1])[::-1]
    return (visible_bits @ powers).astype(int)


def test_gibbs_sampling_reaches_the_exact_distribution():
    model = _model(image_shape=(3, 1, 1), num_hidden=3)  # V + H = 6
    weights, bias = _random_parameters(model, 1.0, seed=6)
    exact = np.exp(_brute_force_log_probs(weights, bias, 3))  # (8,)

    num_chains, num_sweeps = 20000, 30
    run = tf.function(lambda: fully_connected.gibbs_sweeps(
        tf.zeros([num_chains, 6]), *model.parameters(), tf.range(6),
        num_sweeps, lambda step: tf.random.stateless_uniform(
            [num_chains, 6], seed=[7, step])))
    states = run().numpy()
    frequencies = np.bincount(_visible_index(states[:, :3]), minlength=8)
    total_variation = 0.5 * np.abs(frequencies / num_chains - exact).sum()
    # With 20,000 independent chains the expected distance from sampling
    # alone is under 0.01 (it measures 0.009); 0.03 leaves room without
    # hiding a biased sampler.
    assert total_variation < 0.03, (frequencies / num_chains, exact)

    # The sample capability: its visible probabilities average to the exact
    # marginals p(v_i = 1) over independently seeded chains.
    probabilities = tf.function(model.sample)(
        seed=tf.range(2000, dtype=tf.int64))["images"].numpy().reshape(-1, 3)
    marginals = exact @ _all_binary(3)
    # Each mean has a standard error below 0.5 / sqrt(2000) = 0.011 (less:
    # averaging probabilities rather than states); the error measures 0.001.
    np.testing.assert_allclose(probabilities.mean(0), marginals, atol=0.03)


def test_ais_estimate_matches_exact_log_partition():
    model = _model(image_shape=(4, 2, 1), num_hidden=4)  # V + H = 12
    _random_parameters(model, 0.7, seed=8)
    weights, bias = model.parameters()
    exact = float(fully_connected.exact_log_partition(8, weights, bias))
    estimate, stderr = tf.function(fully_connected.ais_log_partition)(
        weights, bias, 500, 100, tf.constant([0, 0], tf.int64))
    # 500 steps and 100 runs on 12 units: the error measures under 0.01
    # nats; an estimate that forgot a term would be off by far more.
    assert abs(float(estimate) - exact) < 0.05, (float(estimate), exact)
    assert 0.0 < float(stderr) < 0.05
    assert abs(float(estimate) - exact) < 4 * float(stderr) + 0.01


def test_log_prob_kind_and_stderr_follow_the_partition_function():
    # V + H = 8: log Z enumerated, exact; V + H = 22: an AIS estimate whose
    # value and standard error the model states, checked here against the
    # enumeration the model does not make (2^22 states).
    small = _model(image_shape=(2, 2, 1), num_hidden=4)
    small.estimate_log_partition()
    assert small.log_prob_kind == "exact" and small.log_prob_stderr() == 0.0
    large = _model(image_shape=(3, 6, 1), num_hidden=4, ais_betas=1000,
                   ais_runs=200)
    _random_parameters(large, 0.3, seed=12)
    large.estimate_log_partition()
    assert large.log_prob_kind == "estimate"
    exact = float(fully_connected.exact_log_partition(
        18, *large.parameters()))
    report = large.report()
    stderr = report["log_partition_stderr"]
    # A stderr of about 0.005 nats: an error of 0.05 in the estimate fails.
    assert stderr == large.log_prob_stderr() and 0.0 < stderr < 0.01
    assert abs(report["log_partition"] - exact) < 4 * stderr, (report, exact)
    assert bm.BoltzmannMachine.log_prob_kind == "estimate"


def _binarized_digit_centres():
    """The central 4x4 pixels of sklearn's digits, binarized once: V = 16.

    The centre, where strokes cross, has strongly correlated pixels (a 2x2
    average-pooled digit is close to independent pixels and leaves little
    for the couplings to learn).
    """
    centres = load_digits().images[:, 2:6, 2:6] / 16.0  # (1797, 4, 4)
    draw = np.random.RandomState(9).uniform(size=centres.shape)
    return (draw < centres).astype(np.float32)[..., np.newaxis]


def test_training_on_digits_raises_the_exact_likelihood():
    images = _binarized_digit_centres()
    train, test = images[:1400], images[1400:]
    model = _model(image_shape=(4, 4, 1), num_hidden=4, learning_rate=0.2,
                   num_chains=100)
    batches = tf.data.Dataset.from_tensor_slices(
        {"image": train, "label": np.zeros(len(train), np.int64)}).batch(32)
    model.adapt(batches)  # starts at the independent-pixel fit

    def mean_log_prob():
        return float(np.mean(model.log_prob(test)["log_prob"]))

    start = mean_log_prob()
    model.fit(batches.shuffle(1400, seed=0), epochs=10, verbose=0,
              shuffle=False)  # the dataset shuffles
    trained = mean_log_prob()
    # V + H = 20: the likelihood is exact, so the gain over the
    # independent-pixel start is the couplings' doing. It measures about
    # 0.9 nats per image (from -10.97 to -10.04).
    assert trained > start + 0.5, (start, trained)


def test_bad_config_names_the_field():
    config = bm.get_config("tiny")
    config.num_hidden = bm.MAX_HIDDEN + 1
    with pytest.raises(errors.UsageError, match="num_hidden"):
        bm.BoltzmannMachine(config, _info((8, 8, 1)))
    config = bm.get_config("tiny")
    config.preprocessing = "unit"
    with pytest.raises(errors.UsageError, match="preprocessing"):
        bm.BoltzmannMachine(config, _info((8, 8, 1)))


def test_registered_with_its_configs():
    spec = registry.get("boltzmann_machine")
    assert spec.family == "boltzmann"
    assert spec.get_config("tiny").epochs == 1
    with pytest.raises(ValueError):
        spec.get_config("huge")
