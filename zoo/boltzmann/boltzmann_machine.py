"""General (unrestricted) Boltzmann machine with hidden units.

Ackley, Hinton & Sejnowski (1985), "A learning algorithm for Boltzmann
machines". N = V + H binary units, visible v (the pixels) and hidden h, every
pair connected by a symmetric weight. Over the joint state x = [v, h],

    E(x) = -1/2 x'Wx - c'x,    p(x) = exp(-E(x)) / Z,

with W symmetric and zero on its diagonal, so the 1/2 counts each pair once:
E(x) = -sum_{i<j} W_ij x_i x_j - sum_i c_i x_i. The diagonal is kept zero by
a mask (in the energy and in a constraint on the stored matrix).

Learning follows the paper's rule dW_ij ~ <x_i x_j>_data - <x_i x_j>_model:

- positive (clamped) phase: the visibles are clamped to a batch of images and
  the hidden units, which interact with each other, are Gibbs-sampled for
  ``positive_gibbs_steps`` sweeps;
- negative (free) phase: persistent chains over all units (Tieleman 2008's
  persistent chains stand in for the paper's annealed free runs) advance by
  ``negative_gibbs_steps`` sweeps per update.

The update is the gradient of mean E(clamped) - mean E(free) with the
samples held constant. With respect to the stored matrix it is
-1/2 (<xx'>_data - <xx'>_model) off the diagonal: each pair's weight appears
twice in W, so each entry gets half the pair's derivative, and an SGD step of
size lr moves a pair's weight by lr/2 times the paper's statistic.

Every unit is connected to every other, so no two units are conditionally
independent: a Gibbs sweep updates the units one at a time, in index order
(systematic scan, which leaves p invariant). That is exact but serial, and
fits the small machines this model is practical for.

Likelihood. The hidden units are summed out exactly by enumerating their 2^H
states (``num_hidden`` <= 20), which gives the free energy
F(v) = -log sum_h exp(-E(v, h)), the exact hidden marginals (``encode``) and
log p(v) = -F(v) - log Z. log Z is exact by enumeration when V + H <= 20;
for larger machines it is an annealed-importance-sampling estimate (Neal
2001; Salakhutdinov & Murray 2008), computed by ``estimate_log_partition``
after training and kept in a variable, so ``log_prob`` is then an estimate
(a stochastic lower bound on log Z in expectation, hence log p(v) tends to be
overestimated by its error).
"""

import math

import keras
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from tfgen import rng
from tfgen.model import GenerativeModel
from zoo.boltzmann import energy as rbm_energy

# Enumeration limits: 2^20 states is about a million rows per image.
MAX_HIDDEN = 20
MAX_EXACT_UNITS = 20

# Salts of the stateless draws; each use owns a range of 2^24, so a sweep
# counter added to the base never reaches another use's draws.
_SAMPLE_SALT = 1 << 24
_AIS_SALT = 2 << 24


def get_config(variant=None):
    """Returns the Boltzmann machine's locked config.

    ``python -m tfgen.train --model=boltzmann_machine`` trains on ``digits``
    (V = 64 binarized pixels, H = 16 hidden units; 60 epochs, about 2 min),
    estimates log Z by AIS, evaluates and exports in about 2 min 40 s on 2
    CPU cores, end to end. Measured on the 360 test images: -log p(v) = 23.2
    nats (independent pixels: 27.2 nats), test reconstruction error 0.105.
    The AIS estimate of log Z varies by about 0.01 nats across seeds and
    moves by 0.01 with 10,000 steps instead of 2,000.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("boltzmann_machine", variant)
    config = config_lib.base_config(
        num_hidden=16,  # <= 20: the hidden states are enumerated
        positive_gibbs_steps=3,  # sweeps of the hidden units, visibles clamped
        negative_gibbs_steps=1,  # sweeps of the persistent chains per update
        num_chains=100,  # persistent free-running chains
        momentum=0.5,
        weight_init_stddev=0.01,
        sample_gibbs_steps=100,  # sweeps from a random state in ``sample``
        ais_betas=2000,  # intermediate distributions of the log Z estimate
        ais_runs=100,  # independent AIS runs averaged
    )
    config.preprocessing = "binarize_dynamic"
    config.optimizer = "sgd"
    config.learning_rate = 0.02
    config.batch_size = 32
    config.epochs = 60
    if variant == "tiny":
        config.num_hidden = 4
        config.num_chains = 8
        config.epochs = 1
        config.sample_gibbs_steps = 5
        config.ais_betas = 20
        config.ais_runs = 4
        config.num_grid_samples = 16
    config.lock()
    return config


def _validate(config):
    """Raises ``UsageError`` naming the field of a bad config."""
    config_lib.validate(config)
    if config.preprocessing not in ("binarize_dynamic", "binarize_static"):
        raise errors.UsageError(
            f"config.preprocessing={config.preprocessing!r}: the units are "
            "binary, so use binarize_dynamic or binarize_static")
    if config.optimizer != "sgd":
        raise errors.UsageError(
            f"config.optimizer={config.optimizer!r}: the learning rule is "
            "applied by SGD with momentum; use sgd")
    if not 1 <= config.num_hidden <= MAX_HIDDEN:
        raise errors.UsageError(
            f"config.num_hidden={config.num_hidden} must lie in "
            f"[1, {MAX_HIDDEN}]: the hidden states are enumerated")
    for name in ("positive_gibbs_steps", "negative_gibbs_steps", "num_chains",
                 "sample_gibbs_steps", "ais_betas", "ais_runs"):
        if config[name] < 1:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be positive")
    if not 0 <= config.momentum < 1:
        raise errors.UsageError(
            f"config.momentum={config.momentum} must lie in [0, 1)")
    if config.weight_init_stddev < 0:
        raise errors.UsageError(f"config.weight_init_stddev="
                                f"{config.weight_init_stddev} must be >= 0")


# --- The maths, as pure functions of the parameters. ----------------------


def symmetric_zero_diagonal(matrix):
    """Projects a square matrix onto symmetric matrices with zero diagonal."""
    size = tf.shape(matrix)[0]
    off_diagonal = 1.0 - tf.eye(size, dtype=matrix.dtype)
    return 0.5 * (matrix + tf.transpose(matrix)) * off_diagonal


def energy(states, weights, bias):
    """Returns E(x) = -1/2 x'Wx - c'x, (B,), for states x (B, N)."""
    pairwise = tf.reduce_sum(tf.matmul(states, weights) * states, axis=-1)
    return -0.5 * pairwise - tf.linalg.matvec(states, bias)


def learning_objective(clamped, free, weights, bias):
    """Mean E(clamped) - mean E(free); its gradient is the learning rule.

    With the samples held constant, the gradient with respect to W is
    -1/2 (<xx'>_clamped - <xx'>_free) (zero on the diagonal once W is
    masked) and with respect to c is -(<x>_clamped - <x>_free): descending it
    is Ackley et al.'s update.

    Returns:
        A scalar.
    """
    clamped = tf.stop_gradient(clamped)
    free = tf.stop_gradient(free)
    return (tf.reduce_mean(energy(clamped, weights, bias))
            - tf.reduce_mean(energy(free, weights, bias)))


def gibbs_sweeps(states, weights, bias, units, num_sweeps, noise):
    """Sequential Gibbs sampling of some units, the others held fixed.

    Each sweep resamples ``units`` one at a time, in the given order, from
    p(x_i = 1 | rest) = sigmoid(sum_j W_ij x_j + c_i).

    Args:
        states: (B, N) binary starting states.
        weights: (N, N) symmetric, zero diagonal.
        bias: (N,).
        units: int32 (U,), the indices of the units resampled.
        num_sweeps: number of sweeps, an int or an int32 scalar tensor.
        noise: function ``noise(sweep) -> (B, U)`` of uniform [0, 1) draws,
            one per row and updated unit; ``sweep`` is an int32 tensor.

    Returns:
        The states (B, N) after the sweeps.
    """
    num_units = tf.shape(states)[1]
    units = tf.convert_to_tensor(units, tf.int32)

    def sweep(step, x):
        uniforms = noise(step)  # (B, U)

        def update(j, x):
            unit = units[j]
            field = (tf.linalg.matvec(x, tf.gather(weights, unit, axis=1))
                     + tf.gather(bias, unit))  # (B,); W_ii = 0: x_i unused
            new = tf.cast(uniforms[:, j] < tf.sigmoid(field), x.dtype)
            column = tf.one_hot(unit, num_units, dtype=x.dtype)  # (N,)
            return j + 1, x * (1.0 - column) + new[:, None] * column

        _, x = tf.while_loop(lambda j, _: j < tf.size(units), update, (0, x))
        return step + 1, x

    _, states = tf.while_loop(lambda step, _: step < num_sweeps, sweep,
                              (tf.constant(0), states))
    return states


def binary_states(num_units):
    """All 2^n binary vectors (2^n, n), float32, built by ops (no constant)."""
    codes = tf.range(2**num_units, dtype=tf.int32)[:, None]
    bits = tf.bitwise.right_shift(codes, tf.range(num_units, dtype=tf.int32))
    return tf.cast(tf.bitwise.bitwise_and(bits, 1), tf.float32)


def hidden_log_weights(visible, weights, bias):
    """Returns -E(v, h) for every hidden state h, (B, 2^H).

    Args:
        visible: (B, V).
        weights: (N, N), the visible units first.
        bias: (N,).
    """
    num_visible = visible.shape[-1]
    num_hidden = weights.shape[0] - num_visible
    hidden = binary_states(num_hidden)  # (S, H), S = 2^H
    w_vv = weights[:num_visible, :num_visible]
    w_vh = weights[:num_visible, num_visible:]
    w_hh = weights[num_visible:, num_visible:]
    visible_term = (0.5 * tf.reduce_sum(tf.matmul(visible, w_vv) * visible, -1)
                    + tf.linalg.matvec(visible, bias[:num_visible]))  # (B,)
    hidden_term = (0.5 * tf.reduce_sum(tf.matmul(hidden, w_hh) * hidden, -1)
                   + tf.linalg.matvec(hidden, bias[num_visible:]))  # (S,)
    cross = tf.matmul(tf.matmul(visible, w_vh), hidden, transpose_b=True)
    return visible_term[:, None] + cross + hidden_term[None, :]  # (B, S)


def free_energy(visible, weights, bias):
    """Returns F(v) = -log sum_h exp(-E(v, h)), (B,), by enumerating h."""
    return -tf.reduce_logsumexp(hidden_log_weights(visible, weights, bias),
                                axis=-1)


def exact_log_partition(num_visible, weights, bias):
    """Returns log Z by enumerating all 2^V visible and 2^H hidden states."""
    return tf.reduce_logsumexp(
        -free_energy(binary_states(num_visible), weights, bias))


def ais_log_partition(weights, bias, num_betas, num_runs, seed):
    """Annealed importance sampling estimate of log Z (Neal 2001).

    Anneals the couplings from 0 to W with the biases held: p_b(x) ~
    exp(b/2 x'Wx + c'x), whose b = 0 end is independent Bernoulli(sigmoid(c))
    units with log Z_0 = sum_i softplus(c_i). Each step adds
    (b_k - b_{k-1}) x'Wx / 2 to a run's log weight, then takes one Gibbs
    sweep at b_k. exp of the estimate is unbiased for Z, so the estimate of
    log Z is low in expectation.

    Args:
        weights: (N, N) symmetric, zero diagonal.
        bias: (N,).
        num_betas: number of annealing steps (a Python int).
        num_runs: number of independent runs (a Python int).
        seed: an int, the seed of the stateless draws.

    Returns:
        A scalar estimate of log Z.
    """
    num_units = weights.shape[0]
    units = tf.range(num_units)
    betas = tf.linspace(0.0, 1.0, num_betas + 1)
    states = tf.cast(
        tf.random.stateless_uniform([num_runs, num_units], [seed, _AIS_SALT])
        < tf.sigmoid(bias), tf.float32)  # (R, N), exact draws from p_0

    def step(k, x, log_weights):
        pairwise = 0.5 * tf.reduce_sum(tf.matmul(x, weights) * x, axis=-1)
        log_weights += (betas[k] - betas[k - 1]) * pairwise
        x = gibbs_sweeps(
            x, betas[k] * weights, bias, units, 1,
            lambda _: tf.random.stateless_uniform(
                [num_runs, num_units], [seed, _AIS_SALT + k]))
        return k + 1, x, log_weights

    _, _, log_weights = tf.while_loop(
        lambda k, *_: k <= num_betas, step,
        (tf.constant(1), states, tf.zeros([num_runs])))
    log_base = tf.reduce_sum(tf.nn.softplus(bias))
    return (log_base + tf.reduce_logsumexp(log_weights)
            - tf.math.log(float(num_runs)))


# --- The model. -----------------------------------------------------------


@registry.register("boltzmann_machine", family="boltzmann",
                   get_config=get_config)
class BoltzmannMachine(GenerativeModel):
    """Boltzmann machine with all V + H units connected (Ackley et al. 1985).

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; the visible units are its pixels.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    capabilities = ("sample", "log_prob", "encode", "reconstruct",
                    "free_energy")

    def __init__(self, config, data_info, **kwargs):
        _validate(config)
        super().__init__(config, data_info, **kwargs)
        self.image_shape = tuple(data_info.image_shape)
        self.num_visible = math.prod(self.image_shape)
        self.num_hidden = int(config.num_hidden)
        self.num_units = self.num_visible + self.num_hidden
        self.exact_partition = self.num_units <= MAX_EXACT_UNITS
        stddev = float(config.weight_init_stddev)

        def symmetric_normal(shape, dtype=None):
            draw = keras.random.normal(shape, stddev=stddev, dtype=dtype)
            # (A + A') / sqrt(2) keeps each entry's stddev.
            return symmetric_zero_diagonal(draw) * 2.0**0.5

        self.coupling = self.add_weight(
            shape=(self.num_units, self.num_units), name="coupling",
            initializer=symmetric_normal,
            constraint=symmetric_zero_diagonal)  # (N, N), after each update
        self.bias = self.add_weight(shape=(self.num_units,), name="bias",
                                    initializer="zeros")
        # The persistent negative-phase chains, (num_chains, N).
        self.chains = self.add_weight(
            shape=(int(config.num_chains), self.num_units), name="chains",
            initializer="zeros", trainable=False)
        # log Z for machines too large to enumerate; refreshed by
        # estimate_log_partition. Its start is exact for zero parameters.
        self.log_partition = self.add_weight(
            shape=(), name="log_partition", trainable=False,
            initializer=keras.initializers.Constant(
                self.num_units * math.log(2.0)))
        self.built = True

        self.noise_seed = keras.random.SeedGenerator(int(config.seed))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.free_energy_tracker = keras.metrics.Mean(name="free_energy")
        self.reconstruction_tracker = keras.metrics.Mean(
            name="reconstruction_error")

    @property
    def metrics(self):
        return [self.loss_tracker, self.free_energy_tracker,
                self.reconstruction_tracker]

    def compile_for_training(self):
        super().compile_for_training(optimizer=keras.optimizers.SGD(
            learning_rate=self.config.learning_rate,
            momentum=self.config.momentum))

    def adapt(self, train_batches):
        """Sets the visible biases to the logits of the pixel means.

        The usual start for binary units (Hinton 2010, "A practical guide to
        training restricted Boltzmann machines"): with small couplings the
        model starts at the independent-pixel fit.
        """
        visible_bias = rbm_energy.mean_log_odds(
            train_batches,
            lambda batch: tf.reshape(batch["image"], [-1, self.num_visible]),
            floor=0.01)
        self.bias.assign(tf.concat(
            [visible_bias, tf.zeros([self.num_hidden])], axis=0))

    def after_training(self, train_batches):
        del train_batches
        self.estimate_log_partition()

    def parameters(self):
        """Returns ``(W, c)``: W (N, N) symmetric, zero diagonal; c (N,)."""
        return symmetric_zero_diagonal(self.coupling), self.bias

    def estimate_log_partition(self):
        """Stores log Z in ``log_partition`` and returns it.

        An AIS estimate (``ais_betas`` steps, ``ais_runs`` runs, seeded by
        ``config.seed``) for machines of more than 20 units; the exact value
        for smaller ones, whose ``log_prob`` enumerates anyway.
        """
        weights, bias = self.parameters()
        if self.exact_partition:
            estimate = exact_log_partition(self.num_visible, weights, bias)
        else:
            estimate = tf.function(ais_log_partition)(
                weights, bias, int(self.config.ais_betas),
                int(self.config.ais_runs), self.instance_seed)
        self.log_partition.assign(estimate)
        return estimate

    # --- Training. ------------------------------------------------------

    def _visible(self, images):
        return tf.reshape(tf.cast(images, tf.float32), [-1, self.num_visible])

    def _update_metrics(self, loss, visible):
        weights, bias = self.parameters()
        log_weights = hidden_log_weights(visible, weights, bias)  # (B, S)
        self.loss_tracker.update_state(loss)
        self.free_energy_tracker.update_state(
            -tf.reduce_logsumexp(log_weights, axis=-1))
        reconstruction = self._reconstruction(visible, log_weights)
        self.reconstruction_tracker.update_state(
            tf.reduce_mean(tf.square(visible - reconstruction), axis=-1))
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, batch):
        visible = self._visible(batch["image"])  # (B, V)
        batch_size = tf.shape(visible)[0]
        weights, bias = self.parameters()
        hidden_units = tf.range(self.num_visible, self.num_units)
        all_units = tf.range(self.num_units)

        # Positive phase: hidden units from a random state, visibles clamped.
        positive_noise = keras.random.uniform(
            (self.config.positive_gibbs_steps + 1, batch_size,
             self.num_hidden), seed=self.noise_seed)  # (P + 1, B, H)
        start = tf.concat([visible, tf.cast(positive_noise[0] < 0.5,
                                            tf.float32)], axis=1)  # (B, N)
        clamped = gibbs_sweeps(start, weights, bias, hidden_units,
                               self.config.positive_gibbs_steps,
                               lambda step: positive_noise[step + 1])

        # Negative phase: the persistent chains run free.
        negative_noise = keras.random.uniform(
            (self.config.negative_gibbs_steps, self.config.num_chains,
             self.num_units), seed=self.noise_seed)  # (K, C, N)
        free = gibbs_sweeps(self.chains, weights, bias, all_units,
                            self.config.negative_gibbs_steps,
                            lambda step: negative_noise[step])
        self.chains.assign(free)

        with tf.GradientTape() as tape:
            loss = learning_objective(clamped, free, *self.parameters())
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_metrics(loss, visible)

    def test_step(self, batch):
        # No sampling: the gap between the data's free energy and that of
        # the chains' visibles, both exact, is the free-phase counterpart of
        # the training loss.
        visible = self._visible(batch["image"])
        weights, bias = self.parameters()
        loss = (tf.reduce_mean(free_energy(visible, weights, bias))
                - tf.reduce_mean(free_energy(
                    self.chains[:, :self.num_visible], weights, bias)))
        return self._update_metrics(loss, visible)

    def call(self, images, training=False):
        """Returns the reconstruction (B, H, W, C); see ``reconstruct``."""
        return self.reconstruct(images)["images"]

    # --- Capabilities. --------------------------------------------------

    def _reconstruction(self, visible, log_weights):
        """Mean-field visible probabilities (B, V) given p(h|v)'s marginals."""
        weights, bias = self.parameters()
        codes = tf.matmul(tf.nn.softmax(log_weights, axis=-1),
                          binary_states(self.num_hidden))  # (B, H)
        field = (tf.matmul(visible, weights[:self.num_visible,
                                            :self.num_visible])
                 + tf.matmul(codes, weights[self.num_visible:,
                                            :self.num_visible])
                 + bias[:self.num_visible])  # (B, V)
        return tf.sigmoid(field)

    def encode(self, images):
        """Returns ``{"codes": p(h_j = 1 | v)}``, (B, H), exact by enumeration."""
        weights, bias = self.parameters()
        posterior = tf.nn.softmax(
            hidden_log_weights(self._visible(images), weights, bias), axis=-1)
        return {"codes": tf.matmul(posterior, binary_states(self.num_hidden))}

    def reconstruct(self, images):
        """Returns ``{"images": (B, H, W, C)}``, deterministic.

        Each pixel's probability sigmoid(sum_j W_ij v_j + sum_k W_ik q_k +
        c_i) given the other pixels and the hidden marginals q = p(h|v):
        a mean-field step from the data.
        """
        weights, bias = self.parameters()
        visible = self._visible(images)
        probabilities = self._reconstruction(
            visible, hidden_log_weights(visible, weights, bias))
        return {"images": tf.reshape(probabilities,
                                     (-1,) + self.image_shape)}

    def sample(self, seed):
        """Runs ``sample_gibbs_steps`` sweeps from a random state per seed.

        Row i depends on ``seed[i]`` alone (tfgen.rng, one salt per sweep).

        Returns:
            ``{"images": (B, H, W, C)}``: p(v_i = 1 | rest of the final
            state), the visible probabilities of the last sweep.
        """
        weights, bias = self.parameters()

        def uniforms(salt):
            return rng.uniform(seed, [self.num_units],
                               instance_seed=self.instance_seed, salt=salt)

        start = tf.cast(uniforms(_SAMPLE_SALT) < 0.5, tf.float32)  # (B, N)
        states = gibbs_sweeps(start, weights, bias, tf.range(self.num_units),
                              self.config.sample_gibbs_steps,
                              lambda step: uniforms(_SAMPLE_SALT + 1 + step))
        field = tf.matmul(states, weights[:, :self.num_visible])
        probabilities = tf.sigmoid(field + bias[:self.num_visible])  # (B, V)
        return {"images": tf.reshape(probabilities,
                                     (-1,) + self.image_shape)}

    def free_energy(self, images):
        """Returns ``{"free_energy": F(v)}``, (B,), exact by enumerating h."""
        return {"free_energy": free_energy(self._visible(images),
                                           *self.parameters())}

    def log_prob(self, images):
        """Returns ``{"log_prob": log p(v)}``, (B,), in nats.

        -F(v) - log Z: exact when V + H <= 20; otherwise log Z is the AIS
        estimate held in ``log_partition`` (see ``estimate_log_partition``).
        """
        weights, bias = self.parameters()
        if self.exact_partition:
            log_partition = exact_log_partition(self.num_visible, weights,
                                                bias)
        else:
            log_partition = self.log_partition
        return {"log_prob": -free_energy(self._visible(images), weights,
                                         bias) - log_partition}
