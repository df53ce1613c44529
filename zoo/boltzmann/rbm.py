"""Restricted Boltzmann machines trained by contrastive divergence.

Hinton (2002), "Training products of experts by minimizing contrastive
divergence": the log-likelihood gradient of an RBM is the difference of two
expectations of v h', one under the data (positive phase) and one under the
model (negative phase). CD-k replaces the model's expectation by samples
from k Gibbs steps started at the data. Tieleman (2008), "Training
restricted Boltzmann machines using approximations to the likelihood
gradient" (PCD), keeps persistent chains that continue from one update to
the next instead, so that they wander far from the data and the gradient is
closer to the true one.

Both are the gradient of ``energy.contrastive_divergence_objective``,
mean F(data) - mean F(negatives) with the negatives held fixed, which an SGD
optimizer with momentum descends. The gradient is computed in closed form
(``energy.contrastive_divergence_gradients``, tested against automatic
differentiation of the objective) from the hidden probabilities the two
phases computed anyway: two matrix products where autodiff would redo both
phases' hidden activations; weight decay on the weights alone and the
other settings follow Hinton (2010), "A practical guide to training
restricted Boltzmann machines".

The likelihood needs log Z: after training, ``after_training`` estimates it
by annealed importance sampling (Salakhutdinov & Murray 2008, see
``partition``) into the variables ``log_partition`` and
``log_partition_stderr``, which ``log_prob`` uses and the export keeps.
During training the cheap pseudo-likelihood (Besag 1975) is tracked instead.

``rbm`` has Bernoulli visibles over binarized images; ``gaussian_rbm`` has
unit-variance Gaussian visibles over gray images standardized per pixel.
"""

import keras
import numpy as np
import tensorflow as tf

from tfgen import config as config_lib
from tfgen import errors
from tfgen import registry
from tfgen import rng
from tfgen.model import GenerativeModel
from zoo.boltzmann import energy
from zoo.boltzmann import partition

TRAINING = ("cd", "pcd")

# Salts of the stateless draws (tfgen.rng and test_step): the sample chain's
# start, the test-time negatives and the test-time flipped pixels differ.
_SAMPLE_START_SALT = 0
_TEST_NEGATIVE_SALT = 1_000
_TEST_FLIP_SALT = 2_000

# Gibbs steps of the sample chain whose noise is drawn at once.
_SAMPLE_BLOCK = 50

# Standardized pixels constant on the training set (a digit's border) would
# otherwise divide by zero.
_MIN_STD = 1e-2

# Add-one smoothing of the pixel marginals whose log-odds start the visible
# biases (Hinton 2010, section 8) and serve as the AIS base.
_SMOOTHING = 1.0


def _common_config(**fields):
    config = config_lib.base_config(
        num_hidden=128,
        training="cd",  # 'cd' (Hinton 2002) or 'pcd' (Tieleman 2008)
        cd_steps=1,  # k: Gibbs steps of each negative phase
        num_chains=100,  # PCD's persistent chains, whatever the batch size
        # 0: one update per batch. n > 0: train_step splits each batch into
        # minibatches of n images, one update each, in one compiled loop, so
        # Keras's per-step cost falls on the batch rather than on each small
        # update (see RBM.train_step).
        minibatch_size=0,
        momentum=0.5,
        weight_decay=1e-4,  # L2 on the weights, not on the biases
        sample_gibbs_steps=1000,  # of the sample capability's chain
        **fields)
    config.optimizer = "sgd"  # with momentum; see compile_for_training
    config.batch_size = 20
    return config


def _shrink_to_tiny(config):
    """The test-sized variant: a few units, one epoch, short chains."""
    config.num_hidden = 8
    config.num_chains = 6
    config.epochs = 1
    config.sample_gibbs_steps = 5
    config.num_grid_samples = 16


def get_config(variant=None):
    """Returns the Bernoulli-Bernoulli RBM's locked config.

    ``python -m tfgen.train --model=rbm`` trains on ``digits`` (1,257
    training images, dynamically binarized) with CD-1 for 60 epochs,
    estimates log Z by AIS (200 chains, 5,000 betas, about 8 s), evaluates
    and exports in about 50 s on 2 CPU cores, end to end. Expected on the
    360 test images: -log p(x) about 22.5 nats (independent pixels: 27.2
    nats), log Z stderr about 0.01 nats; a run of 1,000 chains and 20,000
    betas agrees within 0.015 nats. ``--config.training=pcd`` reaches about
    23.6 nats in the same 60 epochs and 22.8 in 120.

    Args:
        variant: ``None`` for the default; ``"tiny"`` for a small, one-epoch
            version that tests and CI use.

    Returns:
        A locked ``ml_collections.ConfigDict``.

    Raises:
        ValueError: the variant is not ``None`` or ``"tiny"``.
    """
    config_lib.check_variant("rbm", variant)
    config = _common_config(ais_chains=200, ais_betas=5000)
    config.preprocessing = "binarize_dynamic"
    config.epochs = 60
    config.learning_rate = 0.05
    if variant == "tiny":
        _shrink_to_tiny(config)
        config.ais_chains = 16
        config.ais_betas = 20
    config.lock()
    return config


def get_gaussian_config(variant=None):
    """Returns the Gaussian-Bernoulli RBM's locked config.

    ``python -m tfgen.train --model=gaussian_rbm`` trains on ``digits`` gray
    levels in [0, 1], standardized per pixel, with CD-1 for 60 epochs and
    exports in about 50 s on 2 CPU cores, end to end, of which about 5 s
    estimate log Z by AIS with Gaussian visibles (200 chains, 5,000 betas).
    Expected: test reconstruction error (mean squared, standardized units)
    about 0.46, from 0.84 after the first epoch; log Z about 149.1 with a
    stderr of about 0.005 nats; test NLL about 80.2 nats, a negative log
    density of the standardized pixels (see ``GaussianRBM``), not
    comparable with the discrete models' numbers.

    Args and Returns are as for ``get_config``.
    """
    config_lib.check_variant("gaussian_rbm", variant)
    config = _common_config(ais_chains=200, ais_betas=5000)
    config.preprocessing = "unit"
    config.epochs = 60
    # Gaussian visibles are unbounded: a smaller step keeps them stable
    # (Hinton 2010, section 13.2).
    config.learning_rate = 0.005
    if variant == "tiny":
        _shrink_to_tiny(config)
        config.ais_chains = 16
        config.ais_betas = 20
    config.lock()
    return config


def _validate(config, preprocessings):
    """Raises ``UsageError`` naming the field of a bad RBM config."""
    config_lib.validate(config)
    if config.preprocessing not in preprocessings:
        raise errors.UsageError(
            f"config.preprocessing={config.preprocessing!r}: this RBM models "
            f"{' or '.join(preprocessings)} data")
    if config.optimizer != "sgd":
        raise errors.UsageError(
            f"config.optimizer={config.optimizer!r}: RBMs take the CD step "
            "with 'sgd' and config.momentum")
    if config.training not in TRAINING:
        raise errors.UsageError(
            f"config.training={config.training!r} is not one of "
            f"{', '.join(TRAINING)}")
    for name in ("num_hidden", "cd_steps", "num_chains",
                 "sample_gibbs_steps"):
        if config[name] < 1:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be positive")
    if not 0.0 <= config.momentum < 1.0:
        raise errors.UsageError(
            f"config.momentum={config.momentum} must lie in [0, 1)")
    if config.weight_decay < 0.0:
        raise errors.UsageError(
            f"config.weight_decay={config.weight_decay} must be non-negative")
    if config.minibatch_size < 0:
        raise errors.UsageError(
            f"config.minibatch_size={config.minibatch_size} must be 0 (one "
            "update per batch) or positive")
    for name in ("ais_chains", "ais_betas"):
        if name in config and config[name] < 2:
            raise errors.UsageError(
                f"config.{name}={config[name]} must be at least 2")


def pseudo_log_likelihood(visible, flip_indices, weights, visible_bias,
                          hidden_bias):
    """Stochastic pseudo-log-likelihood of binary vectors (Besag 1975).

    sum_i log p(v_i | v_-i) estimated from one coordinate i per vector:
    V * log sigmoid(F(v with v_i flipped) - F(v)), unbiased over a uniform i.

    Args:
        visible: (B, V) binary.
        flip_indices: (B,) integer, the coordinate of each row.
        weights, visible_bias, hidden_bias: the RBM's parameters.

    Returns:
        (B,) in nats.
    """
    num_visible = tf.shape(visible)[1]
    flip = tf.one_hot(flip_indices, num_visible, dtype=visible.dtype)  # (B, V)
    flipped = visible + flip - 2.0 * visible * flip
    gap = (energy.free_energy(flipped, weights, visible_bias, hidden_bias)
           - energy.free_energy(visible, weights, visible_bias, hidden_bias))
    return tf.cast(num_visible, visible.dtype) * tf.math.log_sigmoid(gap)


def exact_pseudo_log_likelihood(visible, weights, visible_bias, hidden_bias):
    """Pseudo-log-likelihood of binary vectors, every coordinate flipped.

    sum_i log p(v_i | v_-i) = sum_i log sigmoid(F(v with v_i flipped) - F(v))
    (Besag 1975), exactly: one free energy per coordinate, so for scoring
    models, not for training (``pseudo_log_likelihood`` estimates it from
    one coordinate).

    Args:
        visible: (B, V) binary.
        weights, visible_bias, hidden_bias: a Bernoulli RBM's parameters.

    Returns:
        (B,) in nats.
    """
    visible = tf.convert_to_tensor(visible, tf.float32)
    weights, visible_bias, hidden_bias = (
        tf.cast(parameter, tf.float32)
        for parameter in (weights, visible_bias, hidden_bias))
    base = energy.free_energy(visible, weights, visible_bias, hidden_bias)
    total = tf.zeros_like(base)
    for pixel in range(visible.shape[1]):
        flipped = tf.concat([visible[:, :pixel],
                             1.0 - visible[:, pixel:pixel + 1],
                             visible[:, pixel + 1:]], axis=1)
        gap = energy.free_energy(flipped, weights, visible_bias, hidden_bias)
        total += tf.math.log_sigmoid(gap - base)
    return total


def _rowwise_matmul(rows, matrix):
    """rows @ matrix, (B, K) x (K, N) -> (B, N), each row a product alone.

    A matmul's blocking depends on the number of rows, which changes the
    rounding of each row's sums: a seeded sample would then depend on the
    other rows of its request, by a few ulps that a long chain amplifies.
    A batch of B one-row products rounds every row the same way.
    """
    return tf.matmul(rows[:, None, :], matrix)[:, 0]  # (B, 1, N) -> (B, N)


@registry.register("rbm", family="boltzmann", get_config=get_config)
class RBM(GenerativeModel):
    """Bernoulli-Bernoulli RBM over binarized images.

    Metrics: ``loss``, the CD/PCD objective without the weight decay (it
    measures how far the negatives are from the data, not the likelihood);
    ``reconstruction_error``, the mean squared error per pixel of one Gibbs
    step v -> h (sampled) -> E[v|h]; ``pseudo_log_likelihood``, Besag's
    estimate in nats per image from one random pixel per image (fixed in
    ``test_step``).

    ``log_prob`` is -F(v) - log Z with log Z from ``after_training``'s AIS
    estimate (zero until then), so it is itself an estimate; the export keeps
    ``log_partition`` and ``log_partition_stderr``, and ``report`` gives
    them to ``metrics.json``.

    Args:
        config: locked config from ``get_config``.
        data_info: ``tfgen.data.DataInfo``; the number of visible units is its
            number of pixels.
        **kwargs: passed to ``keras.Model``.

    Raises:
        UsageError: a config field is out of range.
    """

    capabilities = ("sample", "log_prob", "encode", "reconstruct",
                    "free_energy")
    gaussian = False
    preprocessings = ("binarize_dynamic", "binarize_static")

    def __init__(self, config, data_info, **kwargs):
        _validate(config, self.preprocessings)
        super().__init__(config, data_info, **kwargs)
        self.image_shape = tuple(data_info.image_shape)
        self.num_visible = int(data_info.num_pixels)
        self.num_hidden = int(config.num_hidden)
        self.persistent = config.training == "pcd"
        # Small random weights, zero biases (Hinton 2010, section 8).
        self.weights_vh = self.add_weight(
            shape=(self.num_visible, self.num_hidden), name="weights",
            initializer=keras.initializers.RandomNormal(stddev=0.01,
                                                        seed=config.seed))
        self.visible_bias = self.add_weight(
            shape=(self.num_visible,), name="visible_bias",
            initializer="zeros")
        self.hidden_bias = self.add_weight(
            shape=(self.num_hidden,), name="hidden_bias", initializer="zeros")
        # PCD's fantasy particles: model state, so checkpoints carry them.
        start = self.initial_chains(np.random.RandomState(config.seed), (
            int(config.num_chains), self.num_visible))
        self.chains = self.add_weight(
            shape=start.shape, name="persistent_chains", trainable=False,
            initializer=lambda shape, dtype: tf.constant(start, dtype))
        if "log_prob" in self.capabilities:
            self.log_partition = self.add_weight(
                shape=(), name="log_partition", trainable=False,
                initializer="zeros")
            self.log_partition_stderr = self.add_weight(
                shape=(), name="log_partition_stderr", trainable=False,
                initializer="zeros")
        self.built = True

        self.noise_seed = keras.random.SeedGenerator(int(config.seed))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(
            name="reconstruction_error")
        self.pseudo_likelihood_tracker = keras.metrics.Mean(
            name="pseudo_log_likelihood")

    def initial_chains(self, random_state, shape):
        """PCD's starting states, numpy: uniformly random binary vectors."""
        return (random_state.uniform(size=shape) < 0.5).astype(np.float32)

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.reconstruction_tracker]
        if not self.gaussian:
            trackers.append(self.pseudo_likelihood_tracker)
        return trackers

    def compile_for_training(self):
        """SGD with the config's momentum (Hinton 2010, section 9)."""
        super().compile_for_training(optimizer=keras.optimizers.SGD(
            learning_rate=self.config.learning_rate,
            momentum=self.config.momentum))

    # --- Units. -----------------------------------------------------------

    def to_visible(self, images):
        """(B, H, W, C) images -> (B, V) visible units."""
        return tf.reshape(tf.cast(images, tf.float32), [-1, self.num_visible])

    def to_images(self, visible):
        """(B, V) visible means -> (B, H, W, C) images in [0, 1]."""
        return tf.reshape(visible, (-1,) + self.image_shape)

    @property
    def parameters(self):
        return self.weights_vh, self.visible_bias, self.hidden_bias

    def hidden_probs(self, visible):
        """p(h_j = 1 | v), (B, H)."""
        return energy.hidden_distribution(
            visible, self.weights_vh, self.hidden_bias).mean()

    def visible_mean(self, hidden):
        """E[v | h], (B, V): probabilities, or Gaussian means."""
        return energy.visible_distribution(
            hidden, self.weights_vh, self.visible_bias,
            gaussian=self.gaussian).mean()

    def sample_visible(self, mean, noise):
        """v ~ p(v|h) from its mean and noise: uniform, or standard normal."""
        return tf.cast(noise < mean, tf.float32)

    def visible_noise(self, shape, seed):
        """Noise of ``sample_visible`` drawn by ``keras.random``."""
        return keras.random.uniform(shape, seed=seed)

    def sample_hidden(self, probs, noise):
        """h ~ p(h|v) from its probabilities (B, H) and uniform noise."""
        return tf.cast(noise < probs, tf.float32)

    def free_energy_of(self, visible):
        """F(v), (B,)."""
        return energy.free_energy(visible, *self.parameters,
                                  gaussian=self.gaussian)

    # --- Training. ----------------------------------------------------------

    def negative_phase(self, hidden_probs, draw):
        """k Gibbs sweeps h -> v -> h, from hiddens drawn from ``hidden_probs``.

        Args:
            hidden_probs: (N, H), p(h|data) under CD, p(h|chains) under PCD.
            draw: ``draw(shape, index, visible)`` returns the noise of
                half-step ``index``: 2s draws sweep s's hiddens (uniform),
                2s + 1 its visibles (uniform, or normal for
                ``sample_visible`` when ``visible`` and the visibles are
                Gaussian).

        Returns:
            The last sweep's sampled visibles (N, V) and their hidden
            probabilities p(h|v) (N, H), which the update uses as they are.
        """
        rows = energy.num_rows(hidden_probs)
        probs = hidden_probs
        for step in range(int(self.config.cd_steps)):
            hidden = self.sample_hidden(
                probs, draw([rows, self.num_hidden], 2 * step, False))
            visible = self.sample_visible(
                self.visible_mean(hidden),
                draw([rows, self.num_visible], 2 * step + 1, True))
            probs = self.hidden_probs(visible)
        return visible, probs

    def objective(self, data, negatives):
        """The CD/PCD objective plus weight decay (wd/2)|W|^2, a scalar.

        ``_apply_update`` follows its gradient, computed in closed form.
        """
        return (energy.contrastive_divergence_objective(
            data, negatives, *self.parameters, gaussian=self.gaussian)
            + 0.5 * self.config.weight_decay
            * tf.reduce_sum(tf.square(self.weights_vh)))

    def _update_metrics(self, data, negatives, hidden_noise, flip_indices):
        loss = energy.contrastive_divergence_objective(
            data, negatives, *self.parameters, gaussian=self.gaussian)
        self.loss_tracker.update_state(loss)
        # One Gibbs step: sampled hiddens, then the visible means.
        hidden = self.sample_hidden(self.hidden_probs(data), hidden_noise)
        squared_error = tf.square(data - self.visible_mean(hidden))  # (B, V)
        self.reconstruction_tracker.update_state(
            tf.reduce_mean(squared_error, axis=-1))
        if not self.gaussian:
            self.pseudo_likelihood_tracker.update_state(pseudo_log_likelihood(
                data, flip_indices, *self.parameters))
        return {metric.name: metric.result() for metric in self.metrics}

    def _draw(self, shape, index, visible):
        """Training noise for ``negative_phase``, from ``noise_seed``."""
        del index
        if visible:
            return self.visible_noise(shape, self.noise_seed)
        return keras.random.uniform(shape, seed=self.noise_seed)

    def _negatives(self, data_probs, draw):
        """The negative phase of an update: negatives and p(h|negatives).

        Under CD, k sweeps from the data, whose hidden probabilities
        ``data_probs`` (N, H) the positive phase has computed; under PCD,
        from the persistent chains, which then keep where they stopped.
        """
        if not self.persistent:
            return self.negative_phase(data_probs, draw)
        negatives, negative_probs = self.negative_phase(
            self.hidden_probs(tf.convert_to_tensor(self.chains)), draw)
        self.chains.assign(negatives)
        return negatives, negative_probs

    def _phases(self, data, draw):
        """The positive and negative phases of an update on ``data`` (N, V).

        Returns p(h|data) (N, H), the negatives and p(h|negatives).
        """
        data_probs = self.hidden_probs(data)
        return (data_probs,) + self._negatives(data_probs, draw)

    def _apply_update(self, data, data_probs, negatives, negative_probs):
        """Descends ``objective`` by the optimizer's step (SGD, momentum).

        Its gradient in closed form (``energy.
        contrastive_divergence_gradients``, which reuses both phases'
        hidden probabilities) plus the weight decay's.
        """
        weights, visible_bias, hidden_bias = (
            energy.contrastive_divergence_gradients(
                data, data_probs, negatives, negative_probs))
        if self.config.weight_decay:
            weights += self.config.weight_decay * self.weights_vh
        gradients = [weights, visible_bias, hidden_bias]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            # Keras sums the replicas' gradients: each takes its share.
            gradients = [gradient / replicas for gradient in gradients]
        self.optimizer.apply(gradients, list(self.parameters))

    def train_step(self, batch):
        """One update per batch, or one per minibatch of the batch.

        With ``config.minibatch_size`` = n > 0 the batch's images are cut
        into consecutive minibatches of n (the last may be smaller), each
        making one update in a ``tf.while_loop``; the metrics are then
        computed once, on the last minibatch after its update, with the
        persistent chains (PCD) or a fresh negative phase from it (CD) as
        negatives: the training metrics of an epoch then sample the data
        thinly (the validation metrics do not). With n = 0 the metrics are
        those of the batch's own update, taken before it is applied.
        """
        data = self.to_visible(batch["image"])  # (B, V)
        batch_size = tf.shape(data)[0]
        minibatch_size = int(self.config.minibatch_size)
        if minibatch_size:
            num_minibatches = (batch_size + minibatch_size - 1) // minibatch_size
            num_chains = (int(self.config.num_chains) if self.persistent
                          else minibatch_size)
            # All the loop's noise in two draws, not a few per update: the
            # per-op cost, not arithmetic, bounds small updates on a CPU.
            steps = int(self.config.cd_steps)
            hidden_noise_all = keras.random.uniform(
                [num_minibatches, steps, num_chains, self.num_hidden],
                seed=self.noise_seed)
            visible_noise_all = self.visible_noise(
                [num_minibatches, steps, num_chains, self.num_visible],
                self.noise_seed)

            def body(index):
                def draw(shape, half_step, visible):
                    noise = visible_noise_all if visible else hidden_noise_all
                    noise = noise[index, half_step // 2]
                    # PCD's chains: every row, a static shape.
                    return (noise if (isinstance(shape[0], int)
                                      and shape[0] == num_chains)
                            else noise[:shape[0]])

                minibatch = data[index * minibatch_size:
                                 (index + 1) * minibatch_size]  # (n, V)
                self._apply_update(minibatch, *self._phases(minibatch, draw))
                return (index + 1,)

            tf.while_loop(lambda index: index < num_minibatches, body,
                          (tf.constant(0),))
            # Metrics on the last minibatch alone: on the whole batch they
            # would cost as much as many updates.
            data = data[(num_minibatches - 1) * minibatch_size:]
            batch_size = tf.shape(data)[0]
            negatives = (tf.convert_to_tensor(self.chains) if self.persistent
                         else self.negative_phase(self.hidden_probs(data),
                                                  self._draw)[0])
        else:
            data_probs, negatives, negative_probs = self._phases(data,
                                                                 self._draw)
        hidden_noise = keras.random.uniform([batch_size, self.num_hidden],
                                            seed=self.noise_seed)
        flip_indices = keras.random.randint([batch_size], 0, self.num_visible,
                                            seed=self.noise_seed)
        logs = self._update_metrics(data, negatives, hidden_noise,
                                    flip_indices)
        if not minibatch_size:
            self._apply_update(data, data_probs, negatives, negative_probs)
        return logs

    def test_step(self, batch):
        # Fixed noise: the same weights always give the same metrics. The
        # negatives are k steps from the data even under PCD, whose chains
        # belong to training and must not move during validation.
        data = self.to_visible(batch["image"])
        batch_size = tf.shape(data)[0]

        def draw(shape, index, visible):
            seed = [self.instance_seed, _TEST_NEGATIVE_SALT + index]
            if visible and self.gaussian:
                return tf.random.stateless_normal(shape, seed=seed)
            return tf.random.stateless_uniform(shape, seed=seed)

        negatives, _ = self.negative_phase(self.hidden_probs(data), draw)
        hidden_noise = tf.random.stateless_uniform(
            [batch_size, self.num_hidden],
            seed=[self.instance_seed, _TEST_NEGATIVE_SALT - 1])
        flip_indices = tf.random.stateless_uniform(
            [batch_size], seed=[self.instance_seed, _TEST_FLIP_SALT],
            maxval=self.num_visible, dtype=tf.int32)
        return self._update_metrics(data, negatives, hidden_noise,
                                    flip_indices)

    def call(self, images, training=False):
        """Returns the reconstruction (B, H, W, C)."""
        return self.reconstruct(images)["images"]

    # --- Data statistics and the partition function. -----------------------

    def _pixel_moments(self, train_batches):
        """Per-pixel mean and variance of the training visibles, (V,) each."""
        total, total_sq, count = 0.0, 0.0, 0
        for batch in train_batches:
            images = self._raw_visible(batch["image"])
            total += images.sum(axis=0)
            total_sq += np.square(images).sum(axis=0)
            count += len(images)
        mean = total / count
        return mean, np.maximum(total_sq / count - np.square(mean), 0.0), count

    def _raw_visible(self, images):
        """Images (B, H, W, C), unstandardized -> (B, V) float64 numpy."""
        return np.reshape(np.asarray(images, np.float64),
                          [-1, self.num_visible])

    def data_log_odds(self, train_batches):
        """Log-odds of the smoothed pixel marginals, (V,)."""
        mean, _, count = self._pixel_moments(train_batches)
        p_one = (mean * count + _SMOOTHING) / (count + 2 * _SMOOTHING)
        return np.log(p_one) - np.log1p(-p_one)

    def adapt(self, train_batches):
        """Starts the visible biases at the data's log-odds (Hinton 2010).

        A restored checkpoint then replaces them with the trained ones.
        """
        self.visible_bias.assign(self.data_log_odds(train_batches))

    def after_training(self, train_batches):
        """Estimates log Z by AIS from a base fitted to the pixel marginals."""
        log_z, stderr = partition.ais_log_partition(
            *self.parameters, num_chains=self.config.ais_chains,
            num_betas=self.config.ais_betas, seed=self.config.seed,
            base_visible_bias=self.data_log_odds(train_batches))
        self.log_partition.assign(log_z)
        self.log_partition_stderr.assign(stderr)

    def report(self):
        """log Z and its AIS standard error, for ``metrics.json``."""
        return {"log_partition": float(self.log_partition.numpy()),
                "log_partition_stderr": float(
                    self.log_partition_stderr.numpy())}

    # --- Capabilities. --------------------------------------------------

    def encode(self, images):
        """Returns ``{"codes": p(h = 1 | v)}``, (B, H)."""
        return {"codes": self.hidden_probs(self.to_visible(images))}

    def reconstruct(self, images):
        """One deterministic up-down pass with probabilities, (B, H, W, C)."""
        hidden = self.hidden_probs(self.to_visible(images))
        return {"images": self.to_images(self.visible_mean(hidden))}

    def free_energy(self, images):
        """Returns ``{"free_energy": F(v)}``, (B,) in nats."""
        return {"free_energy": self.free_energy_of(self.to_visible(images))}

    def log_prob(self, images):
        """Returns ``{"log_prob": -F(v) - log Z}``, (B,) in nats.

        An estimate: log Z comes from AIS (``after_training``), whose
        standard error ``log_partition_stderr`` applies to every row.

        Raises:
            InvalidArgumentError: images that are not 0 or 1.
        """
        visible = self.to_visible(images)
        tf.debugging.assert_equal(
            visible * (1.0 - visible), tf.zeros_like(visible),
            message="images must be 0 or 1 for a Bernoulli RBM")
        return {"log_prob": -self.free_energy_of(visible)
                - self.log_partition}

    def initial_visible(self, seed):
        """Random visibles, one row per seed, to start the sample chain."""
        noise = rng.uniform(seed, [self.num_visible],
                            instance_seed=self.instance_seed,
                            salt=_SAMPLE_START_SALT)
        return tf.cast(noise < 0.5, tf.float32)

    def sample_noise(self, seed, salt, visible):
        """Per-row noise of ``_SAMPLE_BLOCK`` half-steps, (B, block, units)."""
        size = self.num_visible if visible else self.num_hidden
        return rng.uniform(seed, [_SAMPLE_BLOCK, size],
                           instance_seed=self.instance_seed, salt=salt)

    @tf.function(reduce_retracing=True)
    def _sample_chain(self, seed):
        steps = int(self.config.sample_gibbs_steps)
        visible = self.initial_visible(seed)  # (B, V)

        def sweep(step, visible, mean, hidden_noise, visible_noise):
            index = step % _SAMPLE_BLOCK
            hidden_probs = tf.sigmoid(
                _rowwise_matmul(visible, self.weights_vh) + self.hidden_bias)
            hidden = tf.cast(hidden_noise[:, index] < hidden_probs,
                             tf.float32)  # (B, H)
            activation = (_rowwise_matmul(hidden, tf.transpose(
                self.weights_vh)) + self.visible_bias)  # (B, V)
            mean = activation if self.gaussian else tf.sigmoid(activation)
            visible = self.sample_visible(mean, visible_noise[:, index])
            return step + 1, visible, mean, hidden_noise, visible_noise

        def block(step, visible, mean):
            # Drawing a block of steps at once: per-row draws are slow one
            # step at a time. Salts 2b + 1 and 2b + 2 of block b differ from
            # the start's and from each other's.
            block_index = step // _SAMPLE_BLOCK
            hidden_noise = self.sample_noise(seed, 2 * block_index + 1, False)
            visible_noise = self.sample_noise(seed, 2 * block_index + 2, True)
            stop = tf.minimum(step + _SAMPLE_BLOCK, steps)
            step, visible, mean, _, _ = tf.while_loop(
                lambda step, *_: step < stop, sweep,
                (step, visible, mean, hidden_noise, visible_noise))
            return step, visible, mean

        _, _, mean = tf.while_loop(
            lambda step, *_: step < steps, block,
            (tf.constant(0, tf.int64), visible, tf.zeros_like(visible)))
        # The last sweep's E[v | h] rather than its noisy draw.
        return mean

    def sample(self, seed):
        """A seeded Gibbs chain of ``config.sample_gibbs_steps`` steps.

        Row i starts from random visibles drawn from ``seed[i]`` alone (by
        ``tfgen.rng``, the block of steps as the salt) and ends with the
        visible means of its last step, (B, H, W, C); it is the same
        whatever else the request holds.
        """
        return {"images": self.to_images(self._sample_chain(seed))}


@registry.register("gaussian_rbm", family="boltzmann",
                   get_config=get_gaussian_config)
class GaussianRBM(RBM):
    """Gaussian-Bernoulli RBM with unit-variance visibles.

    Pixels are standardized with the training set's per-pixel mean and
    standard deviation (fitted by ``adapt``, kept as non-trainable
    variables); ``sample`` and ``reconstruct`` map the visible means back to
    [0, 1]. ``free_energy`` is the unnormalized negative log density.

    ``log_prob`` is -F(v) - log Z of the standardized visible vector v, with
    log Z estimated by AIS over Gaussian visibles in ``after_training``
    (``log_partition`` and ``log_partition_stderr``, as for ``RBM``). It is
    a log density in standardized units, not a log probability: it omits
    the Jacobian of the standardization, -sum_i log std_i, so it is
    comparable only between Gaussian models standardized on the same data,
    never with the discrete models' numbers.
    """

    capabilities = ("sample", "log_prob", "encode", "reconstruct",
                    "free_energy")
    gaussian = True
    preprocessings = ("unit",)

    def __init__(self, config, data_info, **kwargs):
        super().__init__(config, data_info, **kwargs)
        self.pixel_mean = self.add_weight(
            shape=(self.num_visible,), name="pixel_mean", trainable=False,
            initializer="zeros")
        self.pixel_std = self.add_weight(
            shape=(self.num_visible,), name="pixel_std", trainable=False,
            initializer="ones")

    def initial_chains(self, random_state, shape):
        return random_state.standard_normal(size=shape).astype(np.float32)

    def to_visible(self, images):
        """(B, H, W, C) in [0, 1] -> (B, V) standardized."""
        return (super().to_visible(images) - self.pixel_mean) / self.pixel_std

    def to_images(self, visible):
        """(B, V) standardized means -> (B, H, W, C) clipped to [0, 1]."""
        return super().to_images(tf.clip_by_value(
            visible * self.pixel_std + self.pixel_mean, 0.0, 1.0))

    def sample_visible(self, mean, noise):
        return mean + noise

    def visible_noise(self, shape, seed):
        return keras.random.normal(shape, seed=seed)

    def adapt(self, train_batches):
        """Fits the per-pixel mean and (floored) standard deviation."""
        mean, variance, _ = self._pixel_moments(train_batches)
        self.pixel_mean.assign(mean)
        self.pixel_std.assign(np.maximum(np.sqrt(variance), _MIN_STD))

    def after_training(self, train_batches):
        """Estimates log Z by AIS from the model without its weights."""
        del train_batches  # The Gaussian base is N(c, I) by construction.
        log_z, stderr = partition.ais_log_partition(
            *self.parameters, num_chains=self.config.ais_chains,
            num_betas=self.config.ais_betas, seed=self.config.seed,
            gaussian=True)
        self.log_partition.assign(log_z)
        self.log_partition_stderr.assign(stderr)

    def log_prob(self, images):
        """Returns ``{"log_prob": -F(v) - log Z}``, (B,) in nats.

        A log density of the standardized pixels (see the class docstring),
        estimated as ``RBM.log_prob`` is.
        """
        return {"log_prob": -self.free_energy_of(self.to_visible(images))
                - self.log_partition}

    def initial_visible(self, seed):
        return rng.normal(seed, [self.num_visible],
                          instance_seed=self.instance_seed,
                          salt=_SAMPLE_START_SALT)

    def sample_noise(self, seed, salt, visible):
        if not visible:
            return super().sample_noise(seed, salt, visible)
        return rng.normal(seed, [_SAMPLE_BLOCK, self.num_visible],
                          instance_seed=self.instance_seed, salt=salt)
