"""The GAN base: two players, k discriminator steps, switches that reach the
networks, conditioning, and a game that moves the generator to the data."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo  # noqa: F401
from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from tfgen.data import DataInfo
from zoo.adversarial import base
from zoo.adversarial import layers as gan_layers

DIGITS = DataInfo(name="digits", event_shape=(8, 8, 1), num_levels=17,
                  num_classes=10,
                  split_sizes={"train": 32, "validation": 8, "test": 8})
POINTS = DataInfo(name="ring8", event_shape=(2,), num_levels=0,
                  num_classes=8,
                  split_sizes={"train": 32, "validation": 8, "test": 8})


def _model(name, info=DIGITS, **overrides):
    spec = registry.get(name)
    config = spec.get_config("tiny")
    if info is POINTS:
        overrides = {"dataset": "ring8", "preprocessing": "identity",
                     **overrides}
    config = config_lib.apply_overrides(
        config, {key: str(value) for key, value in overrides.items()})
    model = spec.build(config, info)
    model.compile_for_training()
    return model


def _batches(info, num_batches, batch_size=8, seed=0):
    rng = np.random.default_rng(seed)
    shape = (num_batches * batch_size,) + tuple(info.event_shape)
    images = rng.uniform(-1, 1, shape).astype(np.float32)
    labels = rng.integers(0, info.num_classes, shape[0]).astype(np.int64)
    return tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": labels}).batch(batch_size)


def _values(variables):
    return [np.array(variable) for variable in variables]


def _changed(before, variables):
    return [not np.array_equal(old, np.array(new))
            for old, new in zip(before, variables)]


def test_each_player_updates_its_own_network_only():
    model = _model("gan")
    batch = next(iter(_batches(DIGITS, 1)))
    generator = model.generator.trainable_variables
    discriminator = model.discriminator.trainable_variables
    g_before, d_before = _values(generator), _values(discriminator)
    model.discriminator_step(batch["image"], None)
    assert not any(_changed(g_before, generator))
    assert all(_changed(d_before, discriminator))
    d_before = _values(discriminator)
    model.generator_step(batch["image"], None)
    assert all(_changed(g_before, generator))
    assert not any(_changed(d_before, discriminator))


def test_generator_moves_after_every_kth_discriminator_step():
    model = _model("gan", discriminator_steps=3)
    model.fit(_batches(DIGITS, 7), epochs=1, verbose=0)
    assert int(model.optimizers[base.DISCRIMINATOR].iterations) == 7
    # After D's 3rd and 6th updates.
    assert int(model.optimizers[base.GENERATOR].iterations) == 2


def test_weight_clipping_holds_the_critic_in_its_box():
    model = _model("wgan", weight_clip=0.003)
    model.fit(_batches(DIGITS, 2), epochs=1, verbose=0)
    for variable in model.discriminator.trainable_variables:
        assert np.max(np.abs(np.array(variable))) <= 0.003 + 1e-9


def test_virtual_batch_norm_makes_a_generated_row_independent_of_its_batch():
    codes = tf.random.stateless_normal([5, 4], seed=[1, 2])
    for kind, independent in (("virtual", True), ("batch", False)):
        model = _model("gan", generator_normalization=kind)
        assert any(isinstance(layer, gan_layers.VirtualBatchNorm)
                   for layer in model.generator.layers) == independent
        # Training mode: batch norm normalizes with the batch's statistics.
        together = model.generate(codes, training=True)[:1]
        alone = model.generate(codes[:1], training=True)
        same = np.allclose(together, alone, atol=1e-6)
        assert same == independent, kind


def test_minibatch_discrimination_lets_a_score_see_the_other_examples():
    images = tf.random.stateless_uniform([4, 8, 8, 1], seed=[3, 4],
                                         minval=-1, maxval=1)
    other = tf.concat([images[:1], -images[1:]], axis=0)
    for kernels, sees in ((3, True), (0, False)):
        model = _model("gan", minibatch_kernels=kernels)
        first = model.score(images)[0]
        moved = model.score(other)[0]  # same example 0, other companions
        assert (abs(float(first - moved)) > 1e-6) == sees, kernels


def test_conditional_gan_labels_reach_both_players():
    model = _model("cgan")
    seeds = tf.constant([7, 7], tf.int64)
    images = model.sample(seeds, labels=tf.constant([0, 1], tf.int64))[
        "images"]
    assert not np.allclose(images[0], images[1])
    scores = model.discriminate(
        tf.concat([images[:1], images[:1]], 0),
        labels=tf.constant([0, 1], tf.int64))["scores"]
    assert abs(float(scores[0] - scores[1])) > 1e-6


def test_discriminate_gives_probabilities_only_for_a_classifier():
    images = tf.zeros([2, 8, 8, 1])
    outputs = _model("gan").discriminate(images)
    np.testing.assert_allclose(outputs["probabilities"],
                               tf.sigmoid(outputs["scores"]), rtol=1e-6)
    assert set(_model("lsgan").discriminate(images)) == {"scores"}
    assert set(_model("wgan_gp").discriminate(images)) == {"scores"}


@pytest.mark.parametrize("name, overrides, field", [
    ("gan", {"loss": "hinge"}, "config.loss"),
    ("wgan", {"real_label": 0.9}, "config.loss='wasserstein'"),
    ("gan", {"real_label": 0.2, "fake_label": 0.3}, "config.fake_label"),
    ("dcgan", {"gradient_penalty": 10.0}, "config.gradient_penalty"),
    ("gan", {"preprocessing": "levels"}, "config.preprocessing"),
    ("dcgan", {"num_upsamplings": 4}, "config.num_upsamplings"),
    ("gan", {"generator_normalization": "layer"},
     "config.generator_normalization"),
    ("gan", {"generator_activation": "sigmoid"},
     "config.generator_activation"),
    ("gan", {"mlp_initializer": "zeros"}, "config.mlp_initializer"),
])
def test_bad_configs_are_refused_naming_the_field(name, overrides, field):
    with pytest.raises(errors.UsageError, match=field.replace("(", r"\(")):
        _model(name, **overrides)


def test_points_need_the_mlp_and_identity_preprocessing():
    with pytest.raises(errors.UsageError, match="config.architecture"):
        _model("dcgan", POINTS)
    with pytest.raises(errors.UsageError, match="config.preprocessing"):
        _model("gan", POINTS, preprocessing="symmetric")


def test_the_game_moves_the_generator_onto_the_data():
    # Points from one Gaussian at (1.5, -1) with stddev 0.1: the generator
    # starts near the origin and must end near the data.
    rng = np.random.default_rng(0)
    points = (np.array([1.5, -1.0]) + 0.1 * rng.standard_normal(
        (2048, 2))).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices(
        {"image": points, "label": np.zeros(2048, np.int64)}).batch(64)
    model = _model("gan", POINTS, generator_units=(16,),
                   discriminator_units=(16,))
    for optimizer in model.optimizers.values():
        optimizer.learning_rate.assign(5e-3)
    start = np.mean(model.sample(tf.range(256, dtype=tf.int64))["images"], 0)
    model.fit(data.repeat(4), epochs=1, verbose=0)
    samples = np.asarray(model.sample(tf.range(256, dtype=tf.int64))[
        "images"])
    assert np.linalg.norm(start - [1.5, -1.0]) > 1.0
    np.testing.assert_allclose(samples.mean(0), [1.5, -1.0], atol=0.25)


def test_mlp_activations_and_orthogonal_weights_reach_the_players():
    model = _model("gan", POINTS, generator_units=(16, 16),
                   discriminator_units=(16,), generator_activation="tanh",
                   discriminator_activation="relu",
                   mlp_initializer="orthogonal")
    # A tanh generator's hidden units saturate at +-1 for huge codes.
    probe = keras.Model(model.generator.input,
                           model.generator.layers[2].output)
    hidden = np.asarray(probe(1e4 * tf.ones([1, 4])))
    np.testing.assert_allclose(np.abs(hidden), 1.0, atol=1e-6)
    # Orthogonal weights of gain 1.4: W^T W = 1.96 I for the square layer.
    square = model.generator.layers[3].kernel
    np.testing.assert_allclose(np.transpose(square) @ np.asarray(square),
                               1.96 * np.eye(16), atol=1e-5)
    # The discriminator's ReLU: no negative hidden values.
    features = keras.Model(model.discriminator.input,
                              model.discriminator.layers[-2].output)
    assert np.min(features(tf.random.normal([32, 2]))) >= 0.0


def _sgd_players(model, learning_rate):
    for name, variables in model.optimizer_variables().items():
        model.optimizers[name] = keras.optimizers.SGD(learning_rate)
        model.optimizers[name].build(variables)


@pytest.mark.parametrize("name", ["gan", "unrolled_gan"])
def test_simultaneous_updates_take_both_gradients_before_either_moves(name):
    # Metz et al. (2017), equations 7-8: theta_G and theta_D both step from
    # the same (theta_G, theta_D). Under SGD each player's change is then
    # -lr times its gradient at the old parameters of both; the alternating
    # game's generator would see the moved discriminator instead.
    model = _model(name, POINTS, updates="simultaneous",
                   loss="minimax", generator_units=(8,),
                   discriminator_units=(8,))
    learning_rate = 0.5
    _sgd_players(model, learning_rate)
    real = tf.constant(np.random.default_rng(0).normal(size=(16, 2)),
                       tf.float32)
    codes = tf.random.stateless_normal([16, 4], seed=[1, 2])
    model.training_codes = lambda batch_size: codes
    players = model.optimizer_variables()
    old = {key: _values(variables) for key, variables in players.items()}

    def gradients():
        with tf.GradientTape() as tape:
            loss, _ = model.discriminator_objective(
                real, model.generate(codes, training=True))
        d_gradient = tape.gradient(loss, players[base.DISCRIMINATOR])
        with tf.GradientTape() as tape:
            loss = model.generator_objective(codes, None, real)
        return {base.DISCRIMINATOR: d_gradient,
                base.GENERATOR: tape.gradient(loss, players[base.GENERATOR])}

    expected = gradients()
    values = model.simultaneous_step(real, None)
    assert set(values) >= {"discriminator_loss", "generator_loss"}
    for key, variables in players.items():
        for before, after, gradient in zip(old[key], variables,
                                           expected[key]):
            np.testing.assert_allclose(
                np.asarray(after), before - learning_rate * np.asarray(
                    gradient), rtol=1e-5, atol=1e-6)
    # The generator's gradient at the moved discriminator differs: the test
    # tells the two games apart.
    for variable, value in zip(players[base.GENERATOR],
                               old[base.GENERATOR]):
        variable.assign(value)
    alternating = gradients()[base.GENERATOR]
    assert not all(np.allclose(a, b, rtol=1e-3) for a, b in zip(
        alternating, expected[base.GENERATOR]))


def test_simultaneous_updates_train_through_fit_and_refuse_k_steps():
    model = _model("gan", updates="simultaneous")
    model.fit(_batches(DIGITS, 3), epochs=1, verbose=0)
    assert int(model.optimizers[base.DISCRIMINATOR].iterations) == 3
    assert int(model.optimizers[base.GENERATOR].iterations) == 3
    with pytest.raises(errors.UsageError, match="config.updates"):
        _model("gan", updates="turns")
    with pytest.raises(errors.UsageError,
                       match="config.discriminator_steps=2"):
        _model("gan", updates="simultaneous", discriminator_steps=2)
