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
samples held constant, in closed form (``learning_rule_gradients``). With
respect to the stored matrix it is -1/2 (<xx'>_data - <xx'>_model) off the
diagonal: each pair's weight appears twice in W, so each entry gets half the
pair's derivative, and an SGD step of size lr moves a pair's weight by lr/2
times the paper's statistic. With respect to the biases it is
-(<x>_data - <x>_model).

Every unit is connected to every other, so no two units are conditionally
independent: a Gibbs sweep updates the units one at a time, in index order
(systematic scan, which leaves p invariant). That is exact but serial, and
fits the small machines this model is practical for.

Likelihood. The hidden units are summed out exactly by enumerating their 2^H
states (``num_hidden`` <= 20), which gives the free energy
F(v) = -log sum_h exp(-E(v, h)), the exact hidden marginals (``encode``) and
log p(v) = -F(v) - log Z. log Z is exact by enumeration when V + H <= 20
(``log_prob_kind`` "exact"); for larger machines it is an
annealed-importance-sampling estimate (Neal 2001; Salakhutdinov & Murray
2008), computed by ``estimate_log_partition`` after training and kept in a
variable with its standard error, so ``log_prob`` is then an estimate
("estimate": a stochastic lower bound on log Z in expectation, hence log p(v)
tends to be overestimated by its error).
"""

import math

import keras
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from tfgen import statistics
from tfgen.model import GenerativeModel
from tfgen.optimizers import optimizer_config
from zoo.boltzmann import energy as rbm_energy
from zoo.boltzmann import fully_connected

# Enumeration limits: 2^20 states is about a million rows per image.
MAX_HIDDEN = 20
MAX_EXACT_UNITS = 20

# Pixel means are clipped to [floor, 1 - floor] before their log-odds start
# the visible biases.
_MIN_PIXEL_RATE = 0.01


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
        weight_init_stddev=0.01,
        sample_gibbs_steps=100,  # sweeps from a random state in ``sample``
        ais_betas=2000,  # intermediate distributions of the log Z estimate
        ais_runs=100,  # independent AIS runs averaged
    )
    config.preprocessing = "binarize_dynamic"
    # The learning rule, applied by SGD with momentum.
    config.optimizers.model = optimizer_config("sgd", 0.02, momentum=0.5)
    config.batch_size = 32
    config.epochs = 60
    # The Parzen window's samples: a sample takes 100 sweeps of 80 units
    # updated one at a time, about 0.2 s per image on 2 CPU cores, so 1,000
    # samples (3-4 minutes) instead of the harness's 10,000 (half an hour).
    config.parzen_samples = 1000
    if variant == "tiny":
        config.sample_quality = False
        config.parzen_samples = 0
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
    if not 1 <= config.num_hidden <= MAX_HIDDEN:
        raise errors.UsageError(
            f"config.num_hidden={config.num_hidden} must lie in "
            f"[1, {MAX_HIDDEN}]: the hidden states are enumerated")
    for name in ("positive_gibbs_steps", "negative_gibbs_steps", "num_chains",
                 "sample_gibbs_steps", "ais_betas", "ais_runs"):
        if config[name] < 1:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be positive")
    if config.weight_init_stddev < 0:
        raise errors.UsageError(f"config.weight_init_stddev="
                                f"{config.weight_init_stddev} must be >= 0")


# --- The model. -----------------------------------------------------------


@registry.register("boltzmann_machine", family="boltzmann",
                   get_config=get_config,
                   paper="Ackley, Hinton & Sejnowski 1985")
class BoltzmannMachine(GenerativeModel):
    """Boltzmann machine with all V + H units connected (Ackley et al. 1985).

    Metrics: ``loss``, mean E(clamped) - mean E(free) of the update (the
    free energy gap between the data and the chains' visibles in
    ``test_step``); ``free_energy``, the data's mean F(v);
    ``reconstruction_error``, the mean squared error per pixel of the
    mean-field reconstruction.

    ``log_prob_kind`` is "exact" for a machine small enough to enumerate
    (V + H <= 20), "estimate" otherwise.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; the visible units are its pixels.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    capabilities = ("sample", "log_prob", "encode", "reconstruct",
                    "free_energy")
    metric_names = ("loss", "free_energy", "reconstruction_error")
    log_prob_kind = "estimate"

    def __init__(self, config, data_info, **kwargs):
        _validate(config)
        super().__init__(config, data_info, **kwargs)
        self.image_shape = tuple(data_info.image_shape)
        self.num_visible = math.prod(self.image_shape)
        self.num_hidden = int(config.num_hidden)
        self.code_size = self.num_hidden
        self.num_units = self.num_visible + self.num_hidden
        self.exact_partition = self.num_units <= MAX_EXACT_UNITS
        if self.exact_partition:
            self.log_prob_kind = "exact"
        stddev = float(config.weight_init_stddev)

        def symmetric_normal(shape, dtype=None):
            draw = keras.random.normal(shape, stddev=stddev, dtype=dtype)
            # (A + A') / sqrt(2) keeps each entry's stddev.
            return fully_connected.symmetric_zero_diagonal(draw) * 2.0**0.5

        self.coupling = self.add_weight(
            shape=(self.num_units, self.num_units), name="coupling",
            initializer=symmetric_normal,
            # (N, N), projected after each update.
            constraint=fully_connected.symmetric_zero_diagonal)
        self.bias = self.add_weight(shape=(self.num_units,), name="bias",
                                    initializer="zeros")
        # The persistent negative-phase chains, (num_chains, N).
        self.chains = self.add_weight(
            shape=(int(config.num_chains), self.num_units), name="chains",
            initializer="zeros", trainable=False)
        # log Z for machines too large to enumerate, and its AIS standard
        # error; refreshed by estimate_log_partition. Its start is exact for
        # zero parameters.
        self.add_log_partition()
        self.log_partition.assign(self.num_units * math.log(2.0))
        self.built = True

    def adapt(self, train_batches):
        """Sets the visible biases to the logits of the pixel means.

        The usual start for binary units (Hinton 2010, "A practical guide to
        training restricted Boltzmann machines"): with small couplings the
        model starts at the independent-pixel fit.
        """
        visible_bias = statistics.mean_log_odds(
            train_batches, lambda batch: self._visible(batch["image"]),
            floor=_MIN_PIXEL_RATE)
        self.bias.assign(tf.concat(
            [visible_bias, tf.zeros([self.num_hidden])], axis=0))

    def after_training(self, train_batches):
        del train_batches
        self.estimate_log_partition()

    def parameters(self):
        """Returns ``(W, c)``: W (N, N) symmetric, zero diagonal; c (N,)."""
        return (fully_connected.symmetric_zero_diagonal(self.coupling),
                self.bias)

    def estimate_log_partition(self):
        """Stores log Z and its standard error; returns log Z.

        An AIS estimate (``ais_betas`` steps, ``ais_runs`` runs, from the
        stream ``partition``) for machines of more than 20 units; the exact
        value, with a zero error, for smaller ones, whose ``log_prob``
        enumerates anyway.
        """
        weights, bias = self.parameters()
        if self.exact_partition:
            estimate = fully_connected.exact_log_partition(
                self.num_visible, weights, bias)
            stderr = 0.0
        else:
            estimate, stderr = tf.function(fully_connected.ais_log_partition)(
                weights, bias, int(self.config.ais_betas),
                int(self.config.ais_runs), self.stream("partition").seed())
        self.store_log_partition(estimate, stderr)
        return estimate

    # --- Training. ------------------------------------------------------

    def _visible(self, images):
        return tf.reshape(tf.cast(images, tf.float32), [-1, self.num_visible])

    def _metric_values(self, loss, visible):
        weights, bias = self.parameters()
        log_weights = fully_connected.hidden_log_weights(
            visible, weights, bias)  # (B, S)
        reconstruction = self._reconstruction(visible, log_weights)
        return {"loss": loss,
                "free_energy": -tf.reduce_logsumexp(log_weights, axis=-1),
                "reconstruction_error": tf.reduce_mean(
                    tf.square(visible - reconstruction), axis=-1)}

    def train_step(self, batch):
        visible = self._visible(batch["image"])  # (B, V)
        batch_size = tf.shape(visible)[0]
        weights, bias = self.parameters()
        hidden_units = tf.range(self.num_visible, self.num_units)
        all_units = tf.range(self.num_units)

        # Positive phase: hidden units from a random state, visibles clamped.
        positive_noise = self.training_noise(
            (self.config.positive_gibbs_steps + 1, batch_size,
             self.num_hidden), batch_axis=1)  # (P + 1, B, H)
        start = tf.concat([visible, tf.cast(positive_noise[0] < 0.5,
                                            tf.float32)], axis=1)  # (B, N)
        clamped = fully_connected.gibbs_sweeps(
            start, weights, bias, hidden_units,
            self.config.positive_gibbs_steps,
            lambda step: positive_noise[step + 1])

        # Negative phase: the persistent chains run free.
        # The persistent chains are not examples: every replica draws the
        # same noise and moves them alike.
        negative_noise = self.training_noise(
            (self.config.negative_gibbs_steps, self.config.num_chains,
             self.num_units), batch_axis=None)  # (K, C, N)
        free = fully_connected.gibbs_sweeps(
            self.chains, weights, bias, all_units,
            self.config.negative_gibbs_steps,
            lambda step: negative_noise[step])
        self.chains.assign(free)

        loss = fully_connected.learning_objective(clamped, free, weights, bias)
        self.apply_gradients(
            fully_connected.learning_rule_gradients(clamped, free),
            [self.coupling, self.bias])
        return self.update_metrics(self._metric_values(loss, visible))

    def test_step(self, batch):
        # No sampling: the gap between the data's free energy and that of
        # the chains' visibles, both exact, is the free-phase counterpart of
        # the training loss.
        visible = self._visible(batch["image"])
        weights, bias = self.parameters()
        loss = (tf.reduce_mean(fully_connected.free_energy(
                    visible, weights, bias))
                - tf.reduce_mean(fully_connected.free_energy(
                    self.chains[:, :self.num_visible], weights, bias)))
        return self.update_metrics(self._metric_values(loss, visible))

    # --- Capabilities. --------------------------------------------------

    def _reconstruction(self, visible, log_weights):
        """Mean-field visible probabilities (B, V) given p(h|v)'s marginals."""
        weights, bias = self.parameters()
        codes = tf.matmul(tf.nn.softmax(log_weights, axis=-1),
                          rbm_energy.binary_states(self.num_hidden))  # (B, H)
        field = (tf.matmul(visible, weights[:self.num_visible,
                                            :self.num_visible])
                 + tf.matmul(codes, weights[self.num_visible:,
                                            :self.num_visible])
                 + bias[:self.num_visible])  # (B, V)
        return tf.sigmoid(field)

    def _encode(self, images):
        """Returns ``{"codes": p(h_j = 1 | v)}``, (B, H), exact by enumeration."""
        weights, bias = self.parameters()
        posterior = tf.nn.softmax(
            fully_connected.hidden_log_weights(self._visible(images),
                                               weights, bias), axis=-1)
        return {"codes": tf.matmul(
            posterior, rbm_energy.binary_states(self.num_hidden))}

    def _reconstruct(self, images):
        """Returns ``{"images": (B, H, W, C)}``, deterministic.

        Each pixel's probability sigmoid(sum_j W_ij v_j + sum_k W_ik q_k +
        c_i) given the other pixels and the hidden marginals q = p(h|v):
        a mean-field step from the data.
        """
        weights, bias = self.parameters()
        visible = self._visible(images)
        probabilities = self._reconstruction(
            visible, fully_connected.hidden_log_weights(visible, weights, bias))
        return {"images": tf.reshape(probabilities,
                                     (-1,) + self.image_shape)}

    def _sample(self, seed):
        """Runs ``sample_gibbs_steps`` sweeps from a random state per seed.

        Row i depends on ``seed[i]`` alone: the stream ``sample`` draws the
        start at step 0 and sweep k's noise at step k + 1.

        Returns:
            ``{"images": (B, H, W, C)}``: p(v_i = 1 | rest of the final
            state), the visible probabilities of the last sweep.
        """
        weights, bias = self.parameters()
        stream = self.stream("sample")

        def uniforms(step):
            return stream.uniform_rows(seed, [self.num_units], step=step)

        start = tf.cast(uniforms(0) < 0.5, tf.float32)  # (B, N)
        states = fully_connected.gibbs_sweeps(
            start, weights, bias, tf.range(self.num_units),
            self.config.sample_gibbs_steps, lambda step: uniforms(step + 1))
        field = tf.matmul(states, weights[:, :self.num_visible])
        probabilities = tf.sigmoid(field + bias[:self.num_visible])  # (B, V)
        return {"images": tf.reshape(probabilities,
                                     (-1,) + self.image_shape)}

    def _free_energy(self, images):
        """Returns ``{"free_energy": F(v)}``, (B,), exact by enumerating h."""
        return {"free_energy": fully_connected.free_energy(
            self._visible(images), *self.parameters())}

    def _log_prob(self, images):
        """Returns ``{"log_prob": log p(v)}``, (B,), in nats.

        -F(v) - log Z: exact when V + H <= 20; otherwise log Z is the AIS
        estimate held in ``log_partition`` (see ``estimate_log_partition``).
        """
        weights, bias = self.parameters()
        if self.exact_partition:
            log_partition = fully_connected.exact_log_partition(
                self.num_visible, weights, bias)
        else:
            log_partition = self.log_partition
        return {"log_prob": -fully_connected.free_energy(
            self._visible(images), weights, bias) - log_partition}
