"""Tests of the RBMs: CD and PCD (Hinton 2002; Tieleman 2008) and log p(v).

The update is checked against the learning rule in closed form with
hand-made numbers; PCD's chains against their contract (they persist across
steps and checkpoints); the likelihood against exact normalization on an RBM
small enough to enumerate; the AIS estimate of log Z that ``report`` and
``log_prob_stderr`` state against exact enumeration; and training on
binarized digits against the untrained model.
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit
from scipy.special import logsumexp
from sklearn.datasets import load_digits

import zoo  # noqa: F401  (fills the registry)
from tfgen import checkpoints
from tfgen import errors
from tfgen import registry
from tfgen.data.info import DataInfo
from zoo.boltzmann import gaussian_rbm
from zoo.boltzmann import partition
from zoo.boltzmann import rbm
from zoo.boltzmann import rbm_config

MOCK = DataInfo(name="mock", event_shape=(8, 8, 1), num_levels=17,
                num_classes=10)
# Three visible units, for the hand-made numbers.
TRIPLE = DataInfo(name="triple", event_shape=(3, 1, 1), num_levels=2,
                  num_classes=1)


def _config(get_config=rbm.get_config, learning_rate=None, momentum=None,
            **fields):
    config = get_config("tiny")
    for name, value in fields.items():
        setattr(config, name, value)  # locked: existing fields only
    if learning_rate is not None:
        config.optimizers.model.learning_rate = learning_rate
    if momentum is not None:
        config.optimizers.model.momentum = momentum
    return config


def _model(info=MOCK, model_class=rbm.RBM, **fields):
    keras.utils.set_random_seed(0)
    get_config = (gaussian_rbm.get_config
                  if model_class is gaussian_rbm.GaussianRBM
                  else rbm.get_config)
    model = model_class(_config(get_config, **fields), info)
    model.compile_for_training()
    return model


def _fixed_visible_draws(monkeypatch, negatives, num_visible):
    """Makes every visible draw of training give ``negatives``' rows.

    Binary visibles are ``uniform < p(v|h)``: uniform 0 gives 1 and uniform
    1 gives 0 whatever p(v|h) in (0, 1), so the draws that have the
    visibles' width (the last axis) are replaced by 1 - negatives, row for
    row; the others (hiddens, the metrics' noise) stay random.
    """
    original = keras.random.uniform

    def uniform(shape, *args, **kwargs):
        shape = [int(size) for size in shape]
        if shape[-1] != num_visible:
            return original(shape, *args, **kwargs)
        rows = tf.constant(1.0 - negatives[:shape[-2]], tf.float32)
        return tf.broadcast_to(rows, shape)

    monkeypatch.setattr(keras.random, "uniform", uniform)


def _binary(batch_size, shape=(8, 8, 1), seed=0):
    draw = np.random.RandomState(seed).uniform(size=(batch_size,) + shape)
    return (draw < 0.4).astype(np.float32)


def _batch(images):
    return {"image": tf.constant(images),
            "label": tf.zeros([len(images)], tf.int32)}


def _set_parameters(model, weights, visible_bias, hidden_bias):
    model.weights_vh.assign(weights)
    model.visible_bias.assign(visible_bias)
    model.hidden_bias.assign(hidden_bias)


# The hand-made RBM: V = 3, H = 2.
W = np.array([[0.5, -1.0], [0.25, 0.75], [-0.5, 0.125]], np.float32)
C = np.array([0.1, -0.2, 0.3], np.float32)  # visible biases
B = np.array([-0.4, 0.6], np.float32)  # hidden biases
DATA = np.array([[1.0, 0.0, 1.0]], np.float32)
NEGATIVE = np.array([[0.0, 1.0, 1.0]], np.float32)


def _closed_form_update():
    """Hinton (2002): <v h'>_data - <v h'>_negative, with p(h|v) for h."""
    p_data, p_negative = expit(DATA @ W + B), expit(NEGATIVE @ W + B)
    return (DATA.T @ p_data - NEGATIVE.T @ p_negative,
            (DATA - NEGATIVE)[0], (p_data - p_negative)[0])


# --- Config and registry. -------------------------------------------------


def test_configs_are_locked_and_tiny_is_small():
    for get_config in (rbm.get_config, gaussian_rbm.get_config):
        config, tiny = get_config(), get_config("tiny")
        assert tiny.epochs == 1 and tiny.num_hidden < config.num_hidden
        assert config.training in rbm_config.TRAINING
        with pytest.raises(AttributeError):
            config.num_hiddens = 3  # misspelt field
        with pytest.raises(ValueError, match="variant"):
            get_config("huge")
    assert rbm.get_config().preprocessing == "binarize_dynamic"
    assert gaussian_rbm.get_config().preprocessing == "unit"
    gaussian, binary = (get_config().optimizers.model
                        for get_config in (gaussian_rbm.get_config,
                                           rbm.get_config))
    assert binary.algorithm == gaussian.algorithm == "sgd"
    assert binary.momentum == gaussian.momentum == 0.5
    assert gaussian.learning_rate < binary.learning_rate


def test_registered_with_their_capabilities():
    spec = registry.get("rbm")
    assert spec.model_class is rbm.RBM and spec.family == "boltzmann"
    assert spec.capabilities == ("sample", "log_prob", "encode", "reconstruct",
                                 "free_energy")
    spec = registry.get("gaussian_rbm")
    assert spec.model_class is gaussian_rbm.GaussianRBM
    assert spec.get_config is gaussian_rbm.get_config
    assert spec.capabilities == ("sample", "log_prob", "encode", "reconstruct",
                                 "free_energy")


@pytest.mark.parametrize("fields, field", [
    ({"training": "sgd"}, "config.training"),
    ({"num_hidden": 0}, "config.num_hidden"),
    ({"cd_steps": 0}, "config.cd_steps"),
    ({"num_chains": 0}, "config.num_chains"),
    ({"momentum": 1.0}, "config.optimizers.model.momentum"),
    ({"weight_decay": -1e-3}, "config.weight_decay"),
    ({"sample_gibbs_steps": 0}, "config.sample_gibbs_steps"),
    ({"minibatch_size": -1}, "config.minibatch_size"),
    ({"ais_betas": 1}, "config.ais_betas"),
    ({"preprocessing": "unit"}, "config.preprocessing"),
    ({"learning_rate": 0.0}, "config.optimizers.model.learning_rate"),
])
def test_bad_config_raises_usage_error_naming_the_field(fields, field):
    with pytest.raises(errors.UsageError, match=field):
        rbm.RBM(_config(**fields), MOCK)


# --- The CD update. -------------------------------------------------------


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_train_step_moves_the_parameters_by_learning_rate_times_the_rule(
        weight_decay, monkeypatch):
    learning_rate = 0.5
    model = _model(TRIPLE, num_hidden=2, training="cd", momentum=0.0,
                   weight_decay=weight_decay, learning_rate=learning_rate)
    _set_parameters(model, W, C, B)
    # Fixed negative visibles in place of the Gibbs chain's draw; the model
    # computes their hidden probabilities itself.
    _fixed_visible_draws(monkeypatch, NEGATIVE, 3)
    model.train_step(_batch(DATA.reshape(1, 3, 1, 1)))
    update_w, update_c, update_b = _closed_form_update()
    np.testing.assert_allclose(
        model.weights_vh, W + learning_rate * (update_w - weight_decay * W),
        rtol=1e-5, atol=1e-7)
    # Weight decay leaves the biases alone.
    np.testing.assert_allclose(model.visible_bias,
                               C + learning_rate * update_c, rtol=1e-5)
    np.testing.assert_allclose(model.hidden_bias,
                               B + learning_rate * update_b, rtol=1e-5)


def test_minibatches_make_one_sequential_update_each(monkeypatch):
    # config.minibatch_size = 4 on 10 images: updates on images 0-3, 4-7 and
    # 8-9, each from the parameters the previous one left, as numpy does
    # here with the closed-form rule (negatives: fixed binary rows drawn in
    # place of the chain's visibles, as many as the minibatch has images).
    learning_rate, minibatch_size = 0.3, 4
    model = _model(MOCK, num_hidden=5, training="cd", momentum=0.0,
                   weight_decay=0.0, learning_rate=learning_rate,
                   minibatch_size=minibatch_size)
    fixed_negatives = _binary(minibatch_size, seed=7).reshape(
        minibatch_size, -1)
    _fixed_visible_draws(monkeypatch, fixed_negatives, 64)
    weights, visible_bias, hidden_bias = (
        np.array(variable, np.float64) for variable in model.parameters)
    images = _binary(10)
    model.train_step(_batch(images))
    data = images.reshape(10, -1).astype(np.float64)
    for start in range(0, 10, minibatch_size):
        positive = data[start:start + minibatch_size]
        negative = fixed_negatives[:len(positive)].astype(np.float64)
        hidden_positive = expit(positive @ weights + hidden_bias)
        hidden_negative = expit(negative @ weights + hidden_bias)
        weights = weights + learning_rate * (
            positive.T @ hidden_positive - negative.T @ hidden_negative
        ) / len(positive)
        visible_bias = visible_bias + learning_rate * np.mean(
            positive - negative, axis=0)
        hidden_bias = hidden_bias + learning_rate * np.mean(
            hidden_positive - hidden_negative, axis=0)
    np.testing.assert_allclose(model.weights_vh, weights, rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(model.visible_bias, visible_bias, rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(model.hidden_bias, hidden_bias, rtol=1e-4,
                               atol=1e-6)


@pytest.mark.parametrize("training", ["cd", "pcd"])
def test_two_sweep_minibatch_updates_replay_in_numpy(training, monkeypatch):
    # CD-2 or PCD-2 (4 chains) on minibatches of 4 of 10 images, the last of
    # 2, with every uniform draw recorded: numpy replays the three updates
    # with the same noise, which pins which noise each half-step reads.
    learning_rate, minibatch_size = 0.3, 4
    model = _model(MOCK, num_hidden=5, training=training, cd_steps=2,
                   num_chains=4, momentum=0.0, weight_decay=0.0,
                   learning_rate=learning_rate, minibatch_size=minibatch_size)
    recorded, random_state = [], np.random.RandomState(3)

    def uniform(shape, seed=None, **kwargs):
        del seed, kwargs
        value = random_state.uniform(size=[int(d) for d in shape])
        recorded.append(value.astype(np.float32))
        return tf.constant(recorded[-1])

    monkeypatch.setattr(keras.random, "uniform", uniform)
    weights, visible_bias, hidden_bias = (
        np.array(variable, np.float64) for variable in model.parameters)
    chains = model.chains.numpy().astype(np.float64)
    images = _binary(10)
    model.train_step(_batch(images))
    # The loop's noise: (minibatch, sweep, row, unit), hiddens then visibles.
    hidden_noise, visible_noise = recorded[0], recorded[1]
    assert hidden_noise.shape == (3, 2, 4, 5)
    assert visible_noise.shape == (3, 2, 4, 64)
    data = images.reshape(10, -1).astype(np.float64)
    for index, start in enumerate(range(0, 10, minibatch_size)):
        positive = data[start:start + minibatch_size]
        positive_probs = expit(positive @ weights + hidden_bias)
        if training == "cd":
            probs, rows = positive_probs, len(positive)
        else:
            probs, rows = expit(chains @ weights + hidden_bias), 4
        for sweep in range(2):
            hidden = hidden_noise[index, sweep, :rows] < probs
            visible = (visible_noise[index, sweep, :rows]
                       < expit(hidden @ weights.T + visible_bias)) * 1.0
            probs = expit(visible @ weights + hidden_bias)
        chains = visible
        weights = weights + learning_rate * (
            positive.T @ positive_probs / len(positive)
            - visible.T @ probs / rows)
        visible_bias = visible_bias + learning_rate * (
            positive.mean(axis=0) - visible.mean(axis=0))
        hidden_bias = hidden_bias + learning_rate * (
            positive_probs.mean(axis=0) - probs.mean(axis=0))
    for got, expected in zip(model.parameters,
                             (weights, visible_bias, hidden_bias)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    if training == "pcd":
        np.testing.assert_array_equal(model.chains.numpy(), chains)


def _recording_negative_phase(model, monkeypatch):
    """Records the hidden probabilities every negative phase starts from."""
    starts, original = [], model.negative_phase

    def record(hidden_probs, draw):
        starts.append(np.asarray(hidden_probs))
        return original(hidden_probs, draw)

    monkeypatch.setattr(model, "negative_phase", record)
    return starts


def _hidden_probs(model, visible):
    weights, _, hidden_bias = (v.numpy() for v in model.parameters)
    return expit(visible @ weights + hidden_bias)


def test_cd_starts_at_the_data_and_pcd_at_its_persistent_chains(
        monkeypatch, tmp_path):
    batch = _batch(_binary(4))
    data = np.asarray(batch["image"]).reshape(4, 64)

    cd = _model(training="cd")
    cd_starts = _recording_negative_phase(cd, monkeypatch)
    expected = _hidden_probs(cd, data)
    cd.train_step(batch)
    np.testing.assert_allclose(cd_starts[0], expected, rtol=1e-5)

    pcd = _model(training="pcd", num_chains=6, cd_steps=2)
    pcd_starts = _recording_negative_phase(pcd, monkeypatch)
    states = [pcd.chains.numpy()]
    assert states[0].shape == (6, 64)  # num_chains, whatever the batch
    for _ in range(3):
        # Each step continues where the last one stopped, under the
        # weights of its own update.
        expected = _hidden_probs(pcd, states[-1])
        pcd.train_step(batch)
        np.testing.assert_allclose(pcd_starts[-1], expected, rtol=1e-5)
        states.append(pcd.chains.numpy())
        assert not np.array_equal(states[-1], states[-2])  # they move
    chains = states[-1]
    assert set(np.unique(chains)) <= {0.0, 1.0}

    # The checkpoint holds the chains: a fresh model gets them back.
    assert any(v is pcd.chains
               for v in pcd.checkpoint_variables()["model"])
    checkpoints.TrainingCheckpoint(pcd, tmp_path).save(1)
    fresh = _model(training="pcd", num_chains=6, cd_steps=2, seed=5)
    fresh.build_for_training()
    assert not np.array_equal(fresh.chains.numpy(), chains)
    assert checkpoints.TrainingCheckpoint(fresh, tmp_path).restore() == 1
    np.testing.assert_array_equal(fresh.chains.numpy(), chains)


# --- The likelihood. --------------------------------------------------------


def _all_binary_images(shape):
    size = int(np.prod(shape))
    return np.array(list(itertools.product([0.0, 1.0], repeat=size)),
                    np.float32).reshape((-1,) + shape)


def test_log_prob_is_normalized_with_the_exact_partition_function():
    info = DataInfo(name="toy", event_shape=(2, 4, 1), num_levels=2,
                    num_classes=1)
    model = _model(info, num_hidden=3)
    draw = np.random.RandomState(0)
    _set_parameters(model, draw.normal(size=(8, 3)), draw.normal(size=8),
                    draw.normal(size=3))
    model.log_partition.assign(partition.exact_log_partition(
        *model.parameters))
    log_probs = model.log_prob(_all_binary_images((2, 4, 1)))["log_prob"]
    assert log_probs.shape == (256,)
    np.testing.assert_allclose(logsumexp(log_probs), 0.0, atol=1e-5)


def test_log_prob_rejects_gray_images():
    model = _model()
    with pytest.raises(tf.errors.InvalidArgumentError, match="0 or 1"):
        model.log_prob(tf.fill([2, 8, 8, 1], 0.5))


def test_test_step_is_deterministic_and_reports_the_metrics():
    model = _model()
    batch = _batch(_binary(8))

    def evaluate():
        for metric in model.metrics:
            metric.reset_state()
        return {k: float(v) for k, v in model.test_step(batch).items()}

    first = evaluate()
    assert set(first) == {"loss", "reconstruction_error",
                          "pseudo_log_likelihood"}
    assert first == evaluate()
    assert first["pseudo_log_likelihood"] < 0.0


# --- Training on digits. ---------------------------------------------------


def test_training_on_digits_beats_the_untrained_model_and_independent_pixels():
    images = load_digits().images[..., None] / 16.0  # (1797, 8, 8, 1)
    binary = (np.random.RandomState(0).uniform(size=images.shape)
              < images).astype(np.float32)
    train, test = binary[:1437], binary[1437:]
    info = DataInfo(name="digits", event_shape=(8, 8, 1), num_levels=17,
                    num_classes=10)
    model = _model(info, num_hidden=64, training="pcd", num_chains=64,
                   learning_rate=0.05, momentum=0.5, ais_chains=100,
                   ais_betas=1000)
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": train, "label": np.zeros(len(train), np.int32)})
    batches = dataset.shuffle(len(train), seed=0).batch(20)
    model.adapt(batches)

    def test_log_likelihood():
        model.after_training(batches)
        return float(np.mean(model.log_prob(test)["log_prob"]))

    def reconstruction_error():
        reconstructions = model.reconstruct(test)["images"]
        return float(np.mean(np.square(reconstructions - test)))

    untrained = test_log_likelihood()
    untrained_error = reconstruction_error()
    model.fit(batches, epochs=8, shuffle=False, verbose=0)
    trained = test_log_likelihood()
    # Independent pixels fitted to the same training set, as the harness's
    # baseline computes them.
    p_one = (train.reshape(len(train), -1).sum(0) + 1) / (len(train) + 2)
    flat = test.reshape(len(test), -1)
    independent = float(np.mean(flat @ np.log(p_one)
                                + (1 - flat) @ np.log1p(-p_one)))
    print(f"test log-likelihood: trained {trained:.2f}, independent pixels "
          f"{independent:.2f}, untrained {untrained:.2f} nats")
    assert float(model.log_partition_stderr) < 0.1
    assert trained > max(independent, untrained) + 1.0, (
        trained, independent, untrained)
    assert reconstruction_error() < untrained_error - 0.02


def test_reported_log_z_is_the_exact_one_within_the_stated_error():
    # 64 visible and 12 hidden units: log Z enumerates the 2^12 hidden
    # states exactly, an independent check of after_training's AIS, whose
    # value and error report() and log_prob_stderr() state.
    model = _model(num_hidden=12, ais_chains=400, ais_betas=2000)
    draw = np.random.RandomState(11)
    _set_parameters(model, draw.normal(scale=0.3, size=(64, 12)),
                    draw.normal(scale=0.5, size=64),
                    draw.normal(scale=0.5, size=12))
    images = _binary(200, seed=12)
    model.after_training(tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": np.zeros(200, np.int32)}).batch(50))
    exact = float(partition.exact_log_partition(*model.parameters))
    report = model.report()
    assert set(report) == {"log_partition", "log_partition_stderr"}
    stderr = report["log_partition_stderr"]
    # 400 chains and 2,000 betas: a stderr of about 0.005 nats, so that an
    # error of 0.05 nats in the estimate fails.
    assert stderr == model.log_prob_stderr() and 0.0 < stderr < 0.01
    assert model.log_prob_kind == "estimate"
    assert abs(report["log_partition"] - exact) < 4 * stderr, (
        report["log_partition"], exact, stderr)
    # log_prob is -F(v) minus that estimate: off the exact log p(v) by the
    # same amount for every image.
    visible = images[:5].reshape(5, 64).astype(np.float64)
    weights, visible_bias, hidden_bias = (
        np.asarray(variable, np.float64) for variable in model.parameters)
    exact_log_prob = (visible @ visible_bias + np.logaddexp(
        0, visible @ weights + hidden_bias).sum(axis=-1) - exact)
    np.testing.assert_allclose(model.log_prob(images[:5])["log_prob"],
                               exact_log_prob, atol=4 * stderr + 1e-3)


# --- Capabilities. ----------------------------------------------------------


def test_capabilities_shapes_ranges_and_traced_signatures():
    model = _model(sample_gibbs_steps=3)
    images = tf.constant(_binary(5))
    assert model.encode(images)["codes"].shape == (5, 8)
    for outputs in (model.reconstruct(images),
                    model.sample(tf.constant([1, 2, 3, 4, 5], tf.int64))):
        assert outputs["images"].shape == (5, 8, 8, 1)
        assert 0.0 <= float(tf.reduce_min(outputs["images"]))
        assert float(tf.reduce_max(outputs["images"])) <= 1.0
    np.testing.assert_allclose(
        model.free_energy(images)["free_energy"],
        model.visible_free_energy(model.to_visible(images)), rtol=1e-6)
    arguments = {"images": images, "seed": tf.constant([1, 2, 3], tf.int64)}
    for capability in model.capabilities:
        inputs = model.capability_inputs(capability)
        traced = tf.function(getattr(model, capability)).get_concrete_function(
            **{name: spec.spec for name, spec in inputs.items()})
        given = {name: arguments[name] for name in inputs}
        eager = getattr(model, capability)(**given)
        for name, value in traced(**given).items():
            np.testing.assert_allclose(value, eager[name], rtol=1e-5,
                                       atol=1e-5)


def test_sample_chain_length_matters():
    seeds = tf.constant([1, 2], tf.int64)
    short = _model(sample_gibbs_steps=1).sample(seeds)["images"]
    long = _model(sample_gibbs_steps=4).sample(seeds)["images"]
    assert not np.allclose(short, long)


# --- The Gaussian-Bernoulli RBM. -------------------------------------------


def _gray(batch_size, seed=0):
    draw = np.random.RandomState(seed)
    images = draw.uniform(size=(batch_size, 8, 8, 1)) * np.linspace(
        0.2, 1.0, 64).reshape(1, 8, 8, 1)
    images[:, 0, 0, 0] = 0.0  # constant, like a digit's border
    return images.astype(np.float32)


def test_gaussian_adapt_standardizes_the_training_data():
    model = _model(model_class=gaussian_rbm.GaussianRBM)
    images = _gray(50)
    model.adapt(tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": np.zeros(50, np.int32)}).batch(16))
    visible = model.to_visible(images).numpy()  # (50, 64)
    np.testing.assert_allclose(visible.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(visible[:, 1:].std(axis=0), 1.0, atol=1e-3)
    assert float(model.pixel_std[0]) == pytest.approx(1e-2)
    assert np.all(np.isfinite(visible))


def test_gaussian_free_energy_sums_the_hidden_units_out():
    model = _model(model_class=gaussian_rbm.GaussianRBM, num_hidden=4)
    draw = np.random.RandomState(1)
    weights = draw.normal(scale=0.3, size=(64, 4)).astype(np.float32)
    visible_bias = draw.normal(size=64).astype(np.float32)
    hidden_bias = draw.normal(size=4).astype(np.float32)
    _set_parameters(model, weights, visible_bias, hidden_bias)
    model.pixel_mean.assign(np.full(64, 0.5, np.float32))
    model.pixel_std.assign(np.full(64, 0.25, np.float32))
    images = _gray(3)
    visible = (images.reshape(3, 64) - 0.5) / 0.25
    hidden = np.array(list(itertools.product([0.0, 1.0], repeat=4)))
    # E(v, h) = |v - c|^2 / 2 - v'Wh - b'h, by enumeration of h.
    minus_energy = (-0.5 * ((visible - visible_bias)**2).sum(1)[:, None]
                    + visible @ weights @ hidden.T + hidden_bias @ hidden.T)
    np.testing.assert_allclose(model.free_energy(images)["free_energy"],
                               -logsumexp(minus_energy, axis=1), rtol=1e-5)


def test_gaussian_train_step_samples_and_reconstructions_lie_in_unit_range():
    model = _model(model_class=gaussian_rbm.GaussianRBM, sample_gibbs_steps=10)
    images = _gray(16)
    model.adapt(tf.data.Dataset.from_tensors({"image": images}))
    logs = model.train_step(_batch(images))
    assert set(logs) == {"loss", "reconstruction_error"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    # The chains are real-valued and keep their shape.
    assert model.chains.shape == (6, 64)
    assert len(np.unique(model.chains.numpy())) > 2
    samples = model.sample(tf.range(8, dtype=tf.int64))["images"].numpy()
    reconstructions = model.reconstruct(images)["images"].numpy()
    for outputs in (samples, reconstructions):
        assert outputs.shape[1:] == (8, 8, 1)
        assert outputs.min() >= 0.0 and outputs.max() <= 1.0
    assert samples.std() > 0.0
    assert set(model.report()) == {"log_partition", "log_partition_stderr"}


def test_gaussian_log_prob_is_a_density_of_the_standardized_pixels():
    # Two pixels: exp(log_prob) on a fine grid of standardized values
    # integrates to one with the exact log Z.
    info = DataInfo(name="pair", event_shape=(2, 1, 1), num_levels=256,
                    num_classes=1)
    model = _model(info, model_class=gaussian_rbm.GaussianRBM, num_hidden=3)
    draw = np.random.RandomState(2)
    _set_parameters(model, draw.normal(size=(2, 3)), draw.normal(size=2),
                    draw.normal(size=3))
    mean, std = np.array([0.3, 0.6]), np.array([0.2, 0.1])
    model.pixel_mean.assign(mean)
    model.pixel_std.assign(std)
    model.log_partition.assign(partition.exact_log_partition(
        *model.parameters, gaussian=True))
    grid = np.linspace(-12.0, 12.0, 801)
    step = grid[1] - grid[0]
    visible = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    images = (visible * std + mean).reshape(-1, 2, 1, 1).astype(np.float32)
    log_probs = model.log_prob(images)["log_prob"].numpy()
    assert log_probs.shape == (801 * 801,)
    np.testing.assert_allclose(logsumexp(log_probs) + 2 * np.log(step), 0.0,
                               atol=1e-3)


def test_gaussian_after_training_estimates_log_z_by_ais():
    info = DataInfo(name="six", event_shape=(2, 3, 1), num_levels=256,
                    num_classes=1)
    model = _model(info, model_class=gaussian_rbm.GaussianRBM, num_hidden=8,
                   ais_chains=200, ais_betas=1000)
    draw = np.random.RandomState(3)
    _set_parameters(model, draw.normal(size=(6, 8)), draw.normal(size=6),
                    draw.normal(size=8))
    model.after_training(None)
    exact = float(partition.exact_log_partition(*model.parameters,
                                                gaussian=True))
    stderr = float(model.log_partition_stderr)
    assert 0.0 < stderr < 0.1
    assert model.log_prob_stderr() == pytest.approx(stderr)
    assert abs(model.report()["log_partition"] - exact) < 4 * stderr


@pytest.mark.parametrize("model_class", [rbm.RBM, gaussian_rbm.GaussianRBM])
def test_a_sample_row_depends_on_its_seed_alone(model_class):
    # 60 steps: the chain's noise comes in blocks of 50, so both blocks and
    # the boundary between them are exercised.
    model = _model(model_class=model_class, sample_gibbs_steps=60)
    draw = np.random.RandomState(4)
    model.weights_vh.assign(draw.normal(scale=0.5, size=(64, 8)))
    seeds = tf.range(100, 116, dtype=tf.int64)
    together = model.sample(seeds)["images"].numpy()
    for row in (0, 7, 15):
        alone = model.sample(seeds[row:row + 1])["images"].numpy()
        np.testing.assert_array_equal(alone[0], together[row])
    assert not np.allclose(together[0], together[1])
