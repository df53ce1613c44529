"""Tests of the deep belief net (Hinton, Osindero & Teh 2006).

Greedy stacking is checked on the data each RBM sees and on which layers
change in which stage; generative classification against free energies
computed in numpy; discriminative fine-tuning (Hinton & Salakhutdinov 2006)
against scikit-learn's logistic regression on the same split of ``digits``;
two up-down updates against a numpy replay of the algorithm with the same
recorded noise; label-clamped samples against the DBN's own classifier; and
the variational bound of Salakhutdinov & Murray (2008) against the exact
log-likelihood of a DBN small enough to enumerate.
"""

import itertools
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

import zoo  # noqa: F401  (fills the registry)
from tfgen import callbacks as callbacks_lib
from tfgen import data
from tfgen import errors
from tfgen import training
from tfgen.data.info import DataInfo
from zoo.boltzmann import dbn


def _config(optimizers=None, **fields):
    """The tiny config with ``fields`` and ``{optimizer: {setting: value}}``."""
    config = dbn.get_config("tiny")
    for name, value in fields.items():
        setattr(config, name, value)  # locked: existing fields only
    for name, settings in (optimizers or {}).items():
        for setting, value in settings.items():
            config.optimizers[name][setting] = value
    return config


def _model(info, **fields):
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = dbn.DBN(_config(**fields), info)
    # Every optimizer over all of its variables, as the training loop does:
    # each stage applies one to a few of them.
    model.build_for_training()
    return model


def _digits(data_dir, split, preprocessing):
    images, labels = data.dataset_arrays(data.load(
        "digits", split, preprocessing=preprocessing, seed=0,
        data_dir=data_dir))
    return images, labels


def _batches(images, labels, batch_size=64):
    return tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": labels}).shuffle(
            len(images), seed=0).batch(batch_size)


def _train(model, train_batches, *, stages=None, steps_per_epoch=None):
    """Runs stages through the one training loop (all, or a consecutive few).

    Leaving out the stages before the first chosen one is resuming after
    them; leaving out those after the last is a shorter schedule.
    """
    schedule = model.training_stages()
    names = [name for name, _ in schedule]
    first, last = ((names.index(stages[0]), names.index(stages[-1]))
                   if stages else (0, len(names) - 1))
    done = sum(epochs for _, epochs in schedule[:first])
    guard = callbacks_lib.NonFiniteGuard()
    with mock.patch.object(model, "training_stages",
                           return_value=schedule[:last + 1]):
        if steps_per_epoch:  # Epochs as training.execute makes them.
            train_epochs = train_batches
        else:
            def train_epochs(epochs):
                return train_batches.repeat(len(epochs))
            steps_per_epoch = int(train_batches.cardinality())
        training._fit_stages(model, train_epochs, None, done, [guard], guard,
                             verbose=0, steps_per_epoch=steps_per_epoch)
    assert guard.failure is None, guard.failure


def _error(model, images, labels):
    predicted = np.asarray(model.classify(images=tf.constant(images))["labels"])
    return float(np.mean(predicted != labels))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _pseudo_log_likelihood(model, layer, visible):
    """Mean over units of log p(v_i | v_-i) under RBM ``layer`` (binary v)."""
    weights, visible_bias, hidden_bias = (
        np.asarray(p, np.float64) for p in model.rbm(layer))

    def free_energy(v):
        return -v @ visible_bias - np.logaddexp(
            0, v @ weights + hidden_bias).sum(-1)

    base = free_energy(visible)
    total = 0.0
    for unit in range(visible.shape[1]):
        flipped = visible.copy()
        flipped[:, unit] = 1 - flipped[:, unit]
        # log sigmoid(F(flipped) - F(v))
        total -= np.logaddexp(0, base - free_energy(flipped)).mean()
    return total / visible.shape[1]


def test_greedy_stacking_trains_each_layer_on_the_one_below(data_dir):
    images, labels = _digits(data_dir, "train", "binarize_static")
    info = data.get_info("digits", data_dir=data_dir)
    model = _model(info, hidden_units=(24, 24, 32), pretrain_epochs=8)
    assert [name for name, _ in model.training_stages()] == [
        "pretrain_layer_0", "pretrain_layer_1", "pretrain_layer_2",
        "finetune"]
    batches = _batches(images, labels)
    _train(model, batches, stages=("pretrain_layer_0",))
    layer_0 = [np.array(v) for v in model.rbm_variables(0)]

    # Layer 1's training data, drawn binary: pseudo-likelihood needs 0/1.
    rng = np.random.default_rng(0)
    inputs = np.asarray(model.layer_input(images[:300], labels[:300], 1))
    binary = (rng.random(inputs.shape) < inputs).astype(np.float64)
    before = _pseudo_log_likelihood(model, 1, binary)

    # What the second RBM's train_step sees: the first's hidden probabilities.
    seen = []
    layer_input = dbn.DBN.layer_input

    def recording_layer_input(self, *args):
        seen.append(np.asarray(layer_input(self, *args)))
        return seen[-1]

    model.begin_stage("pretrain_layer_1")
    batch = next(iter(batches))
    with mock.patch.object(dbn.DBN, "layer_input", recording_layer_input):
        model.train_step(batch)  # eagerly: the recorded input is a value
    flat = batch["image"].numpy().reshape(len(seen[0]), -1)
    weights, _, hidden_bias = layer_0  # (W, visible bias, hidden bias)
    np.testing.assert_allclose(seen[0], _sigmoid(flat @ weights + hidden_bias),
                               rtol=1e-5, atol=1e-6)

    # Pretraining layer 1 raises its own pseudo-likelihood on that data.
    _train(model, batches, stages=("pretrain_layer_1", "pretrain_layer_2"))
    after = _pseudo_log_likelihood(model, 1, binary)
    assert after > before + 0.05, (before, after)
    # Lower layers are frozen while the ones above are pretrained.
    for old, new in zip(layer_0, model.rbm_variables(0)):
        np.testing.assert_array_equal(old, np.asarray(new))
    # The top RBM sees the labels as one-hot softmax units.
    top_input = np.asarray(model.layer_input(images[:5], labels[:5], 2))
    np.testing.assert_array_equal(top_input[:, -10:],
                                  np.eye(10)[labels[:5]])


def _free_energies(model, pen):
    """F(pen, y) of the top RBM for every label y, in numpy, (B, K)."""
    weights = np.asarray(model.top_weights, np.float64)
    label_weights = np.asarray(model.label_weights, np.float64)
    hidden = (pen @ weights + np.asarray(model.top_hidden_bias))[:, None, :]
    hidden = hidden + label_weights[None]  # (B, K, H)
    return (-(pen @ np.asarray(model.top_visible_bias))[:, None]
            - np.asarray(model.label_bias)[None]
            - np.logaddexp(0, hidden).sum(-1))


def test_generative_classification_minimizes_the_top_free_energy():
    # Four pixels, the top RBM directly on them: hidden unit j detects
    # pixel j, and label y's weights switch on hidden unit y.
    info = DataInfo("hand", (2, 2, 1), 2, 4)
    model = _model(info, hidden_units=(4,))
    model.top_weights.assign(6 * np.eye(4, dtype=np.float32))
    model.top_hidden_bias.assign(-3 * np.ones(4, np.float32))
    model.label_weights.assign(4 * np.eye(4, dtype=np.float32))
    images = np.eye(4, dtype=np.float32).reshape(4, 2, 2, 1)
    result = model.classify(images=tf.constant(images))
    np.testing.assert_array_equal(result["labels"], [0, 1, 2, 3])
    assert result["labels"].dtype == tf.int64

    # A stack with random weights: the label of least free energy of the
    # recognition probabilities, and p(y|v) = softmax(-F).
    info = DataInfo("hand", (2, 3, 1), 2, 3)
    model = _model(info, hidden_units=(5, 4))
    rng = np.random.default_rng(1)
    for variable in model.trainable_variables:
        variable.assign(rng.normal(0, 1.5, variable.shape).astype(np.float32))
    images = (rng.random((16, 2, 3, 1)) < 0.5).astype(np.float32)
    pen = _sigmoid(images.reshape(16, -1) @ np.asarray(
        model.recognition_weights[0]) + np.asarray(model.recognition_biases[0]))
    free = _free_energies(model, pen)
    result = model.classify(images=tf.constant(images))
    np.testing.assert_array_equal(result["labels"], free.argmin(-1))
    expected = np.exp(-free - (-free).max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(result["probabilities"], expected, atol=1e-5)


def test_discriminative_dbn_beats_logistic_regression_on_digits(data_dir):
    # The dynamic binarization's stream mixes in the global seed when the
    # pipeline is built: fix it here, whatever tests ran before.
    keras.utils.set_random_seed(0)
    # Same split for both: tfgen.data's fixed digits split. The baseline is
    # the README's (benchmarks/classifier_baselines.py): logistic regression
    # on the [0, 1] intensities, fitted to convergence.
    train_unit, train_labels = _digits(data_dir, "train", "unit")
    test_images, test_labels = _digits(data_dir, "test", "unit")
    logistic = LogisticRegression(max_iter=1000).fit(
        train_unit.reshape(len(train_unit), -1).astype(np.float64),
        train_labels)
    baseline = 1 - logistic.score(
        test_images.reshape(len(test_images), -1).astype(np.float64),
        test_labels)

    # Trained on binarizations drawn anew each epoch (augmentation), tested
    # on their expected values, the [0, 1] intensities.
    split_for_epoch = data.load_by_epoch(
        "digits", "train", preprocessing="binarize_dynamic", seed=0,
        data_dir=data_dir)

    def train_epochs(epochs):
        return data.shuffled_epochs(split_for_epoch, size=len(train_labels),
                                    seed=0, batch_size=64, epochs=epochs)

    info = data.get_info("digits", data_dir=data_dir)
    model = _model(info, hidden_units=(128, 128, 512), pretrain_epochs=10,
                   epochs=100, finetune="discriminative",
                   optimizers={"discriminative": {"learning_rate": 3e-3}})
    _train(model, train_epochs,
           steps_per_epoch=data.num_batches(len(train_labels), 64))
    error = _error(model, test_images, test_labels)
    print(f"test error {error:.2%}, logistic regression {baseline:.2%}")
    # What the README states: logistic regression errs 2.5% (9 of the 360
    # test images) and the DBN, tested on the gray levels, less. Measured:
    # 1.1% (4 images; 1.4% with the pipeline before epochs were keyed on
    # their number).
    assert round(baseline * len(test_labels)) == 9, baseline
    assert error < baseline, (error, baseline)


def _numpy_up_down(parameters, data, labels, noise, top_gibbs_steps):
    """The gradients of one up-down update (Hinton et al. 2006, appendix B).

    Written from the paper, in numpy, for a DBN with one directed layer:
    ``parameters`` holds R, r (recognition), G, g (generative), W, U, c, d, b
    (the top RBM over the pen units and the label); ``noise`` yields the
    uniform draws of every binary state in the algorithm's order.
    """
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def softmax(x):
        exp = np.exp(x - x.max(-1, keepdims=True))
        return exp / exp.sum(-1, keepdims=True)

    R, r, G, g, W, U, c, d, b = (parameters[name] for name in (
        "R", "r", "G", "g", "W", "U", "c", "d", "b"))
    rows = len(data)
    # Wake: a binary pen state from the recognition weights.
    pen_wake = (next(noise) < sigmoid(data @ R + r)) * 1.0
    # The top RBM: CD-k from (pen, label); the label is free in the chain.
    positive_hidden = sigmoid(pen_wake @ W + labels @ U + b)
    hidden_probs = positive_hidden
    for _ in range(top_gibbs_steps):
        hidden = (next(noise) < hidden_probs) * 1.0
        pen = (next(noise) < sigmoid(hidden @ W.T + c)) * 1.0
        label_probs = softmax(hidden @ U.T + d)
        hidden_probs = sigmoid(pen @ W + label_probs @ U + b)
    # Sleep: the pixels' probabilities generated from the chain's pen state.
    pixels = sigmoid(pen @ G.T + g)
    gradients = {
        # Descending -log p(data | wake pen) and -log q(pen | pixels).
        "G": (sigmoid(pen_wake @ G.T + g) - data).T @ pen_wake / rows,
        "g": (sigmoid(pen_wake @ G.T + g) - data).mean(0),
        "R": pixels.T @ (sigmoid(pixels @ R + r) - pen) / rows,
        "r": (sigmoid(pixels @ R + r) - pen).mean(0),
        # CD: <v h'>_negative - <v h'>_positive.
        "W": (pen.T @ hidden_probs - pen_wake.T @ positive_hidden) / rows,
        "U": (label_probs.T @ hidden_probs - labels.T @ positive_hidden)
        / rows,
        "c": (pen - pen_wake).mean(0),
        "d": (label_probs - labels).mean(0),
        "b": (hidden_probs - positive_hidden).mean(0)}
    return gradients


def test_up_down_updates_replay_in_numpy_with_the_recorded_noise(
        monkeypatch):
    # Two updates of a 6-4 stack under a top RBM of 3 units, 2 labels: SGD
    # with momentum 0.9 and weight decay on the weight matrices, so the
    # second update also checks that the velocity carries over.
    info = DataInfo("hand", (2, 3, 1), 2, 2)
    learning_rate, momentum, weight_decay, steps = 0.3, 0.9, 0.05, 2
    model = _model(info, hidden_units=(4, 3), top_gibbs_steps=steps,
                   weight_decay=weight_decay,
                   optimizers={"up_down": {"learning_rate": learning_rate,
                                           "momentum": momentum}})
    random_state = np.random.default_rng(5)
    for variable in model.trainable_variables:  # untied, as after up-down
        variable.assign(random_state.normal(0, 1.0, variable.shape))
    model.begin_stage("finetune")
    names = {"R": model.recognition_weights[0],
             "r": model.recognition_biases[0],
             "G": model.generative_weights[0], "g": model.generative_biases[0],
             "W": model.top_weights, "U": model.label_weights,
             "c": model.top_visible_bias, "d": model.label_bias,
             "b": model.top_hidden_bias}
    parameters = {name: np.asarray(variable, np.float64)
                  for name, variable in names.items()}
    velocities = {name: 0.0 for name in names}
    recorded, draw = [], np.random.default_rng(6)

    def uniform(shape, seed=None, **kwargs):
        del seed, kwargs
        recorded.append(draw.uniform(size=[int(size) for size in shape]))
        return tf.constant(recorded[-1], tf.float32)

    monkeypatch.setattr(keras.random, "uniform", uniform)
    images = (random_state.random((5, 2, 3, 1)) < 0.5).astype(np.float32)
    labels = np.array([0, 1, 1, 0, 1])
    for _ in range(2):
        recorded.clear()
        model.train_step({"image": tf.constant(images),
                          "label": tf.constant(labels, tf.int64)})
        # One draw for the wake state and two per step of the chain.
        assert len(recorded) == 1 + 2 * steps
        gradients = _numpy_up_down(
            parameters, images.reshape(5, 6).astype(np.float64),
            np.eye(2)[labels], iter(recorded), steps)
        for name, gradient in gradients.items():
            if parameters[name].ndim == 2:
                gradient = gradient + weight_decay * parameters[name]
            velocities[name] = (momentum * velocities[name]
                                - learning_rate * gradient)
            parameters[name] = parameters[name] + velocities[name]
        for name, variable in names.items():
            np.testing.assert_allclose(variable, parameters[name],
                                       rtol=1e-4, atol=1e-5, err_msg=name)


def test_samples_clamped_to_a_label_are_classified_as_that_label(data_dir):
    # A 64-64-128 DBN pretrained and fine-tuned up-down on binarized digits:
    # its top RBM's Gibbs chain with a label clamped, passed down, gives
    # images that its own generative classifier assigns to that label far
    # more often than chance (1 in 10).
    keras.utils.set_random_seed(0)
    images, labels = _digits(data_dir, "train", "binarize_static")
    info = data.get_info("digits", data_dir=data_dir)
    model = _model(info, hidden_units=(64, 128), pretrain_epochs=10,
                   epochs=5, top_gibbs_steps=3, sample_gibbs_steps=100)
    _train(model, _batches(images, labels))
    assert model.capability_inputs("sample")["labels"].maximum == 9
    seeds = tf.range(200, dtype=tf.int64)
    wanted = seeds % 10
    clamped = model.sample(seed=seeds, labels=wanted)["images"]
    agreement = float(np.mean(
        model.classify(images=clamped)["labels"].numpy() == wanted.numpy()))
    print(f"clamped samples classified as their label: {agreement:.1%}")
    assert agreement > 0.5, agreement
    # Another label changes the images drawn from the same seeds.
    other = model.sample(seed=seeds, labels=(wanted + 1) % 10)["images"]
    assert float(np.mean(np.abs(other - clamped))) > 0.05
    # Without labels, each row's label is drawn from its seed.
    np.testing.assert_allclose(
        model.sample(seed=seeds[:20])["images"],
        model.sample(seed=seeds[:20],
                     labels=model.draw_labels(seeds[:20]))["images"],
        atol=1e-6)


def _log_joint(model, visible, states):
    """log p(v, h_1) of every v and h_1 of a one-layer stack, exactly.

    Returns:
        ``(log_joint (B, S), log_z)`` with log Z of the top RBM enumerated.
    """
    weights = np.asarray(model.generative_weights[0], np.float64)
    bias = np.asarray(model.generative_biases[0], np.float64)
    # log p*(h_1) = logsumexp_y -F(h_1, y); log Z sums it over every h_1.
    log_marginal = np.logaddexp.reduce(-_free_energies(model, states), -1)
    log_z = np.logaddexp.reduce(log_marginal)
    logits = states @ weights.T + bias  # (S, V)
    log_conditional = (visible[:, None, :] * logits[None]
                       - np.logaddexp(0, logits)[None]).sum(-1)  # (B, S)
    return log_conditional + log_marginal[None] - log_z, log_z


def test_log_prob_bound_lies_below_the_exact_log_likelihood():
    info = DataInfo("tiny", (2, 3, 1), 2, 2)
    model = _model(info, hidden_units=(4, 3), log_prob_samples=4000)
    rng = np.random.default_rng(2)
    for variable in model.trainable_variables:  # untied, as after up-down
        variable.assign(rng.normal(0, 1.0, variable.shape).astype(np.float32))
    visible = np.array(list(itertools.product([0, 1], repeat=6)), np.float64)
    images = tf.constant(visible.reshape(-1, 2, 3, 1), tf.float32)
    model.after_training(tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": tf.zeros([64], tf.int64)}).batch(16))
    states = np.array(list(itertools.product([0, 1], repeat=4)), np.float64)
    log_joint, log_z = _log_joint(model, visible, states)  # (64, 16)
    exact = np.logaddexp.reduce(log_joint, -1)  # log p(v)
    # The top RBM is small: after_training enumerated its log Z.
    np.testing.assert_allclose(float(model.log_partition), log_z, rtol=1e-5)
    np.testing.assert_allclose(np.logaddexp.reduce(exact), 0.0, atol=1e-5)

    bound = np.asarray(model.log_prob(images=images)["log_prob"])
    # The bound's expectation, enumerating h_1 under q(h_1|v).
    q = _sigmoid(visible @ np.asarray(model.recognition_weights[0])
                 + np.asarray(model.recognition_biases[0]))  # (B, H1)
    log_q = (states[None] * np.log(q[:, None])
             + (1 - states[None]) * np.log1p(-q[:, None])).sum(-1)  # (B, S)
    expected = (np.exp(log_q) * (log_joint - log_q)).sum(-1)
    # 4000 samples: the Monte-Carlo error is std(log w) / 63, a few 0.01.
    # The setting is not degenerate: q is far enough from p(h_1|v) that a
    # bound computed with the wrong sign of log q, or without it, would
    # not land on expected.
    assert (exact - expected).mean() > 0.05
    np.testing.assert_allclose(bound, expected, atol=0.08)
    # The model's bound lies below the exact log-likelihood (Jensen: the
    # gap is KL(q || p(h|v))).
    assert np.all(bound < exact), (bound - exact).max()


def test_bad_config_names_the_field():
    info = DataInfo("hand", (2, 2, 1), 2, 4)
    for field, value in (("finetune", "wake_sleep"),
                         ("preprocessing", "levels"), ("hidden_units", ()),
                         ("top_gibbs_steps", 0), ("pretrain_epochs", -1),
                         ("weight_decay", -1.0)):
        with pytest.raises(errors.UsageError, match=f"config.{field}"):
            _model(info, **{field: value})
    with pytest.raises(errors.UsageError,
                       match="config.optimizers.up_down.momentum"):
        _model(info, optimizers={"up_down": {"momentum": 1.0}})
    # Each of the three algorithms needs its optimizer.
    config = _config()
    with config.optimizers.unlocked():
        del config.optimizers["discriminative"]
    with pytest.raises(errors.UsageError, match="'discriminative'"):
        dbn.DBN(config, info).compile_for_training()
