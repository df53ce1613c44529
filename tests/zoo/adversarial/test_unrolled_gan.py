"""Tests of the unrolled GAN (Metz et al. 2017) and its differentiable steps.

The pure optimizer steps are checked against Keras's own Adam and SGD
applied to variables, and Adam's against a step by hand; the unrolled
discriminator against K real steps of its optimizer on the same batch; the
unrolled objective's gradient, second-order term included, against central
finite differences in float64; the look-ahead's effect against the plain
GAN's gradient, which it must leave when the discriminator's learning rate
is 0 and only then; and the real discriminator and its optimizer against
any change by the generator's objective.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo  # noqa: F401  (fills the registry)
from tfgen import errors
from tfgen import optimizers
from tfgen import registry
from tfgen.data.info import DataInfo
from zoo.adversarial import base
from zoo.adversarial import losses
from zoo.adversarial import unrolled_gan
from zoo.adversarial import unrolling

POINTS = DataInfo(name="points", event_shape=(2,))
BATCH = 8
D_LEARNING_RATE = "optimizers.discriminator.learning_rate"


def _config(**fields):
    """The tiny config on points, with ``fields`` set; dotted names reach
    nested fields, as on the command line."""
    config = unrolled_gan.get_config("tiny")
    config.preprocessing = "identity"
    for name, value in fields.items():
        *path, leaf = name.split(".")
        node = config
        for part in path:
            node = node[part]
        setattr(node, leaf, value)  # locked: existing fields only
    return config


def _model(**fields):
    """A compiled tiny model on points, with fixed initial weights."""
    keras.utils.set_random_seed(0)
    model = unrolled_gan.UnrolledGAN(_config(**fields), POINTS)
    model.compile_for_training()
    return model


def _batches(model, seed=1):
    """Fixed codes (B, latent_dim) and real points (B, 2), floatx."""
    generator = np.random.default_rng(seed)
    dtype = keras.config.floatx()
    codes = generator.normal(size=(BATCH, model.latent_dim)).astype(dtype)
    real = generator.normal(size=(BATCH, 2)).astype(dtype)
    return tf.constant(codes), tf.constant(real)


def _warm_up(model, real, steps=2):
    """Real discriminator steps, so its Adam slots are not zero."""
    for _ in range(steps):
        model.discriminator_step(real, None)


def _generator_gradient(model, objective, codes, real):
    with tf.GradientTape() as tape:
        loss = objective(codes, None, real)
    return tape.gradient(loss, model.generator.trainable_variables)


def _flat(tensors):
    return np.concatenate([np.ravel(tensor) for tensor in tensors])


@pytest.fixture
def float64():
    # The global dtype policy too: Keras freezes it at the floatx of the
    # first layer built in the process, and layers follow the policy.
    previous, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(previous)
    keras.config.set_dtype_policy(policy)


# --- The differentiable optimizer steps against Keras's. ------------------


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("algorithm, settings", [
    ("adam", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=1e-3)),
    ("adam", dict(learning_rate=0.01)),
    ("sgd", dict(learning_rate=0.1)),
    ("sgd", dict(learning_rate=0.1, momentum=0.9)),
    ("sgd", dict(learning_rate=0.1, momentum=0.5, nesterov=True)),
])
def test_steps_match_keras_over_three_steps(algorithm, settings, compiled):
    generator = np.random.default_rng(0)
    shapes = [(3, 2), (2,)]
    variables = [keras.Variable(generator.normal(size=shape).astype("float32"))
                 for shape in shapes]
    optimizer = keras.optimizers.get({"class_name": algorithm,
                                      "config": dict(settings)})
    optimizer.build(variables)

    def gradients():
        return [tf.constant(generator.normal(size=shape).astype("float32"))
                for shape in shapes]

    for _ in range(2):  # Non-zero slots and a step count of 2.
        optimizer.apply(gradients(), variables)
    look_ahead = unrolling.LookAheadOptimizer(optimizer, variables)
    step = tf.function(look_ahead.step) if compiled else look_ahead.step
    params = [tf.convert_to_tensor(variable) for variable in variables]
    state = look_ahead.state()
    for _ in range(3):
        grads = gradients()
        params, state = step(params, grads, state)
        optimizer.apply(grads, variables)
        # The same operations in the same order: equal up to the last bit
        # or two of float32, which fused kernels may round differently.
        for param, variable in zip(params, variables):
            np.testing.assert_allclose(param, variable, rtol=1e-6,
                                       atol=1e-7)
        # The state runs alongside the optimizer's own.
        np.testing.assert_equal(
            [np.asarray(slot) for slot in tf.nest.flatten(state)],
            [np.asarray(slot) for slot in tf.nest.flatten(
                look_ahead.state())])


def test_adam_step_by_hand():
    # One step from m = 0.2, v = 0.01 at iteration 3 (t = 4), g = 0.5, with
    # settings exact in float32 (Keras, hence adam_step, casts the betas
    # through float32 before raising them to the power t):
    # m = 0.2 + 0.3 * 0.5, v = 0.01 + 0.24 * 0.25,
    # alpha = 0.125 sqrt(1 - 0.75^4) / (1 - 0.5^4),
    # p = 1 - alpha m / (sqrt(v) + 1e-3).
    m, v = 0.2 + (0.5 - 0.2) * 0.5, 0.01 + (0.25 - 0.01) * 0.25
    alpha = 0.125 * np.sqrt(1 - 0.75 ** 4) / (1 - 0.5 ** 4)
    expected = 1.0 - alpha * m / (np.sqrt(v) + 1e-3)
    state = unrolling.AdamState([tf.constant([0.2], tf.float64)],
                                [tf.constant([0.01], tf.float64)],
                                tf.constant(3, tf.int64))
    (param,), new_state = unrolling.adam_step(
        [tf.constant([1.0], tf.float64)], [tf.constant([0.5], tf.float64)],
        state, 0.125, 0.5, 0.75, 1e-3)
    np.testing.assert_allclose(param, [expected], rtol=1e-12)
    np.testing.assert_allclose(new_state.momentums[0], [m], rtol=1e-12)
    np.testing.assert_allclose(new_state.velocities[0], [v], rtol=1e-12)
    assert int(new_state.iteration) == 4
    # sgd_step: p - rate * g; a missing gradient leaves its parameter.
    moved, kept = unrolling.sgd_step(
        [tf.constant(1.0), tf.constant(2.0)], [tf.constant(0.5), None], 0.1)
    np.testing.assert_allclose([moved, kept], [0.95, 2.0], rtol=1e-7)


def test_look_ahead_refuses_what_it_cannot_reproduce():
    variables = [keras.Variable(np.zeros(2, "float32"))]
    for optimizer, match in [
            (keras.optimizers.RMSprop(), "unrolls"),
            (keras.optimizers.Adam(clipnorm=1.0), "clipnorm"),
            (keras.optimizers.Adam(amsgrad=True), "amsgrad"),
            (keras.optimizers.Adam(), "built")]:
        if match != "built":
            optimizer.build(variables)
        with pytest.raises(ValueError, match=match):
            unrolling.LookAheadOptimizer(optimizer, variables)


# --- The unrolled objective's gradient. -----------------------------------


@pytest.mark.parametrize("steps", [1, 2])
def test_unrolled_gradient_matches_finite_differences(float64, steps):
    model = _model(latent_dim=2, generator_units=(3,),
                   discriminator_units=(3,), unrolling_steps=steps,
                   **{D_LEARNING_RATE: 0.05})
    codes, real = _batches(model)
    _warm_up(model, real)
    gradient = _generator_gradient(model, model.generator_objective, codes,
                                   real)

    def objective():
        return float(model.generator_objective(codes, None, real))

    # A few weights of each generator layer: (variable number, index) in
    # (hidden kernel, hidden bias, output kernel, output bias).
    probes = [(0, (0, 0)), (0, (1, 2)), (1, (1,)), (2, (2, 1)), (3, (0,))]
    step = 1e-6
    for which, index in probes:
        variable = model.generator.trainable_variables[which]
        start = variable.numpy()
        values = []
        for sign in (1, -1):
            moved = start.copy()
            moved[index] += sign * step
            variable.assign(moved)
            values.append(objective())
        variable.assign(start)
        numeric = (values[0] - values[1]) / (2 * step)
        # Central differences in float64 err by O(step^2 f''') ~ 1e-12 plus
        # rounding ~ 1e-16 / step = 1e-10: 1e-6 is loose, yet a missing
        # second-order term moves these gradients by 1e-3 or more.
        np.testing.assert_allclose(gradient[which].numpy()[index], numeric,
                                   rtol=1e-6, atol=1e-9)


def _first_order_gradient(model, codes, real):
    """d f(theta_G, theta_D^K) / d theta_G with theta_D^K held fixed."""
    with tf.GradientTape() as tape:
        fake = model.generate(codes, training=True)
        params = [tf.stop_gradient(param)
                  for param in model.unrolled_discriminator(real, fake)]
        loss = losses.generator_loss(model.config.loss,
                                     model.score_at(params, fake))
    return tape.gradient(loss, model.generator.trainable_variables)


def test_the_look_ahead_and_its_second_order_term_change_the_gradient():
    model = _model(**{D_LEARNING_RATE: 0.05})
    codes, real = _batches(model)
    _warm_up(model, real)
    plain_objective = super(unrolled_gan.UnrolledGAN,
                            model).generator_objective  # the MLP GAN's

    def unrolled_gradient():
        return _generator_gradient(model, model.generator_objective, codes,
                                   real)

    compiled_gradient = tf.function(unrolled_gradient)
    plain = _flat(_generator_gradient(model, plain_objective, codes, real))
    unrolled = _flat(unrolled_gradient())
    first_order = _flat(_first_order_gradient(model, codes, real))
    scale = np.linalg.norm(unrolled)
    assert np.linalg.norm(unrolled - plain) > 0.05 * scale
    # The term through theta_D^K's dependence on theta_G.
    assert np.linalg.norm(unrolled - first_order) > 0.05 * scale
    # Compiled, the same gradient; and the traced function reads the
    # optimizer's state when it runs, not when it was traced.
    np.testing.assert_allclose(_flat(compiled_gradient()), unrolled,
                               rtol=1e-5, atol=1e-7)
    _warm_up(model, real, steps=1)
    np.testing.assert_allclose(_flat(compiled_gradient()),
                               _flat(unrolled_gradient()), rtol=1e-5,
                               atol=1e-7)

    # A discriminator that does not move: f_K is the plain objective.
    model.optimizers[base.DISCRIMINATOR].learning_rate = 0.0
    plain = _flat(_generator_gradient(model, plain_objective, codes, real))
    for gradient in (unrolled_gradient, compiled_gradient):
        np.testing.assert_allclose(_flat(gradient()), plain, rtol=1e-5,
                                   atol=1e-7)


# The look-ahead's paths: Adam, with a rate at which its steps show; SGD with
# momentum, a clipped critic, layer norm and minibatch discrimination.
_PATHS = [
    {D_LEARNING_RATE: 0.05},
    {"optimizers.discriminator": optimizers.optimizer_config(
        "sgd", 0.01, momentum=0.9),
     "loss": "wasserstein", "weight_clip": 0.01,
     "discriminator_normalization": "layer", "minibatch_kernels": 2},
]


@pytest.mark.parametrize("fields", _PATHS)
def test_the_look_ahead_takes_the_discriminators_own_steps(fields):
    # theta_D^K equals K real steps of D's optimizer, from the same slots,
    # on the same real and generated batch.
    model = _model(**fields)
    codes, real = _batches(model)
    _warm_up(model, real)
    fake = model.generate(codes, training=True)
    unrolled = _flat(model.unrolled_discriminator(real, fake))
    for _ in range(model.unrolling_steps):
        with tf.GradientTape() as tape:
            loss, _ = model.discriminator_objective(real, fake)
        model.minimize(tape, loss, optimizer=base.DISCRIMINATOR)
        if model.config.weight_clip:
            losses.clip_weights(model.discriminator.trainable_variables,
                                model.config.weight_clip)
    # float32 rounding, which Adam's division by sqrt(v) may magnify.
    np.testing.assert_allclose(
        unrolled, _flat(model.discriminator.trainable_variables), rtol=1e-4,
        atol=1e-6)


@pytest.mark.parametrize("fields", _PATHS)
def test_the_unrolled_copies_are_discarded(fields):
    model = _model(**fields)
    codes, real = _batches(model)
    _warm_up(model, real)
    optimizer = model.optimizers[base.DISCRIMINATOR]
    before = [variable.numpy() for variable in
              model.discriminator.variables + optimizer.variables]
    gradient = _generator_gradient(model, model.generator_objective, codes,
                                   real)
    after = [variable.numpy() for variable in
             model.discriminator.variables + optimizer.variables]
    assert np.isfinite(_flat(gradient)).all()
    assert int(optimizer.iterations) == 2
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    if model.config.weight_clip:  # Each unrolled step clips, as D's does.
        params = model.unrolled_discriminator(real, model.generate(codes))
        assert np.abs(_flat(params)).max() <= model.config.weight_clip


def test_one_training_step_through_fit():
    model = _model()
    _, real = _batches(model)
    before = [_flat(network.trainable_variables)
              for network in (model.generator, model.discriminator)]
    history = model.fit(tf.data.Dataset.from_tensors({"image": real}),
                        shuffle=False, verbose=0)
    for name in ("discriminator_loss", "generator_loss"):
        assert np.isfinite(history.history[name]).all(), history.history
    for old, network in zip(before, (model.generator, model.discriminator)):
        assert not np.allclose(_flat(network.trainable_variables), old)


# --- Config and registry. -------------------------------------------------


def test_config_and_registry():
    config, tiny = unrolled_gan.get_config(), unrolled_gan.get_config("tiny")
    assert (config.unrolling_steps, tiny.unrolling_steps) == (5, 2)
    assert tuple(config.generator_units) == (128, 128)
    assert tuple(config.discriminator_units) == (128,)
    spec = registry.get("unrolled_gan")
    assert spec.model_class is unrolled_gan.UnrolledGAN
    assert spec.family == "adversarial"


@pytest.mark.parametrize("fields, field", [
    (dict(unrolling_steps=0), "config.unrolling_steps"),
    (dict(unrolling_steps=-1), "config.unrolling_steps"),
    (dict(discriminator_normalization="batch"),
     "config.discriminator_normalization"),
    (dict(loss="wasserstein", gradient_penalty=10.0),
     "config.gradient_penalty"),
    ({"optimizers.discriminator.algorithm": "rmsprop"},
     "config.optimizers.discriminator.algorithm"),
    ({"optimizers.discriminator": optimizers.optimizer_config(
        "adam", 2e-4, clipnorm=1.0)},
     "config.optimizers.discriminator.clipnorm"),
])
def test_bad_configs_name_their_field(fields, field):
    with pytest.raises(errors.UsageError, match=field):
        unrolled_gan.UnrolledGAN(_config(**fields), POINTS)
