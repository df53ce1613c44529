"""Differentiable optimizer steps, for objectives that look ahead through one.

Metz, Poole, Pfau & Sohl-Dickstein (2017), "Unrolled Generative Adversarial
Networks": the generator minimizes f(theta_G, theta_D^K), where theta_D^K is
the discriminator after K steps of its own optimizer,

    theta_D^{k+1} = theta_D^k + eta * df/dtheta_D^k   (Adam, in the paper),

and the generator's gradient runs back through those K steps. Keras's
``optimizer.apply`` assigns to variables, and a tape does not differentiate
through an assignment. This module writes the updates of Keras 3's SGD (with
or without momentum) and Adam as pure functions of lists of tensors,
operation for operation as Keras computes them, and reads a built Keras
optimizer's current state (its slots and its step count), so that a
look-ahead continues the real optimizer's trajectory, as the paper's code
does, instead of restarting Adam from empty moments.

``unroll`` runs K such steps on a loss of the parameters; the tensors it
returns are differentiable functions of whatever the loss depends on.
"""

import collections

import tensorflow as tf

from tfgen import errors

# --config.optimizers.NAME.algorithm values that can be unrolled.
ALGORITHMS = ("adam", "sgd")

# The settings each algorithm's look-ahead reproduces; any other setting
# (gradient clipping, weight decay, EMA, amsgrad, ...) changes the update.
_SETTINGS = {"adam": ("learning_rate", "beta_1", "beta_2", "epsilon"),
             "sgd": ("learning_rate", "momentum", "nesterov")}

# Settings of a Keras optimizer that change ``apply`` beyond update_step.
_EXTRAS = ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay",
           "use_ema", "loss_scale_factor", "gradient_accumulation_steps",
           "amsgrad")

AdamState = collections.namedtuple("AdamState",
                                   ["momentums", "velocities", "iteration"])


def sgd_step(params, grads, learning_rate):
    """One step of plain gradient descent: ``p - learning_rate * g``.

    Args:
        params: list of tensors.
        grads: list of tensors, one per parameter, of its shape; None
            leaves its parameter unchanged, as Keras does.
        learning_rate: a scalar (float or tensor).

    Returns:
        The list of new parameters.
    """
    new_params = []
    for param, grad in zip(params, grads):
        if grad is None:  # Keras leaves a variable without gradient alone.
            new_params.append(param)
            continue
        rate = tf.cast(learning_rate, param.dtype)
        new_params.append(param - tf.cast(grad, param.dtype) * rate)
    return new_params


def momentum_step(params, grads, momentums, learning_rate, momentum,
                  nesterov=False):
    """One step of Keras's SGD with momentum.

    Keras keeps m <- momentum * m - learning_rate * g and moves p <- p + m
    (Nesterov: p <- p + momentum * m - learning_rate * g, with the new m).

    Args:
        params: list of tensors.
        grads: list of tensors, one per parameter; None leaves its
            parameter and velocity unchanged.
        momentums: list of tensors, the velocity m of each parameter.
        learning_rate: a scalar.
        momentum: the decay of m, in [0, 1).
        nesterov: whether the step is Nesterov's.

    Returns:
        ``(new_params, new_momentums)``.
    """
    new_params, new_momentums = [], []
    for param, grad, velocity in zip(params, grads, momentums):
        if grad is None:
            new_params.append(param)
            new_momentums.append(velocity)
            continue
        rate = tf.cast(learning_rate, param.dtype)
        decay = tf.cast(momentum, param.dtype)
        grad = tf.cast(grad, param.dtype)
        velocity = velocity * decay - grad * rate
        if nesterov:
            param = param + (velocity * decay - grad * rate)
        else:
            param = param + velocity
        new_params.append(param)
        new_momentums.append(velocity)
    return new_params, new_momentums


def adam_step(params, grads, state, learning_rate, beta_1, beta_2, epsilon):
    """One step of Keras 3's Adam (Kingma & Ba 2015), as Keras computes it.

    With t = iteration + 1 (the step being taken),

        m <- m + (g - m)(1 - beta_1),   v <- v + (g^2 - v)(1 - beta_2),
        alpha = learning_rate sqrt(1 - beta_2^t) / (1 - beta_1^t),
        p <- p - alpha m / (sqrt(v) + epsilon):

    the bias corrections are folded into the step size, and epsilon is added
    to the uncorrected sqrt(v) (Kingma & Ba's "epsilon hat", section 2).

    Args:
        params: list of tensors.
        grads: list of tensors, one per parameter; None leaves its
            parameter and slots unchanged, as Keras does (the step count
            still advances).
        state: ``AdamState(momentums, velocities, iteration)``: lists of m
            and v, and the number of steps already taken (an integer
            scalar, Keras's ``optimizer.iterations``).
        learning_rate, beta_1, beta_2, epsilon: Adam's settings.

    Returns:
        ``(new_params, new_state)``, the state one iteration further.
    """
    momentums, velocities, iteration = state
    new_params, new_momentums, new_velocities = [], [], []
    for param, grad, m, v in zip(params, grads, momentums, velocities):
        if grad is None:
            new_params.append(param)
            new_momentums.append(m)
            new_velocities.append(v)
            continue
        dtype = param.dtype
        rate = tf.cast(learning_rate, dtype)
        grad = tf.cast(grad, dtype)
        local_step = tf.cast(iteration + 1, dtype)
        beta_1_power = tf.pow(tf.cast(beta_1, dtype), local_step)
        beta_2_power = tf.pow(tf.cast(beta_2, dtype), local_step)
        alpha = rate * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m = m + (grad - m) * (1 - beta_1)
        v = v + (tf.square(grad) - v) * (1 - beta_2)
        new_params.append(param - (m * alpha) / (tf.sqrt(v) + epsilon))
        new_momentums.append(m)
        new_velocities.append(v)
    return new_params, AdamState(new_momentums, new_velocities,
                                 iteration + 1)


def check_optimizer_entry(entry, where):
    """Checks that a config's optimizer entry can be unrolled.

    Args:
        entry: one ``config.optimizers`` entry (``tfgen.optimizers``).
        where: its name for messages, ``"config.optimizers.NAME"``.

    Raises:
        UsageError: naming ``where.algorithm`` for an algorithm other than
            ``ALGORITHMS``, or ``where.SETTING`` for a setting (gradient
            clipping, weight decay, ...) the look-ahead does not reproduce.
    """
    if entry.algorithm not in ALGORITHMS:
        raise errors.UsageError(
            f"{where}.algorithm={entry.algorithm!r}: the unrolled look-ahead "
            f"differentiates through {' or '.join(ALGORITHMS)} only")
    allowed = _SETTINGS[entry.algorithm]
    for name, value in entry.items():
        if name == "algorithm" or name in allowed or value in (None, 0):
            continue
        raise errors.UsageError(
            f"{where}.{name}={value!r}: the unrolled look-ahead reproduces "
            f"{entry.algorithm} with {', '.join(allowed)} only")


class LookAheadOptimizer:
    """A Keras optimizer's update as a pure function, from its current state.

    Built from a built Keras ``Adam`` or ``SGD`` and the variables it
    updates; ``state`` reads the slots of those variables now, ``step``
    takes one update of tensors without touching any variable.

    Args:
        optimizer: a built ``keras.optimizers.Adam`` or ``SGD``.
        variables: the variables whose slots the look-ahead starts from, in
            the order of the parameter lists given to ``step``.

    Raises:
        ValueError: an optimizer of another kind, one not built on
            ``variables``, or one with settings (clipping, weight decay,
            EMA, amsgrad, a schedule) or variables with constraints that
            the pure step does not reproduce.
    """

    def __init__(self, optimizer, variables):
        import keras  # As in tfgen.optimizers: TensorFlow starts on use.

        self.optimizer = optimizer
        self.variables = list(variables)
        if isinstance(optimizer, keras.optimizers.Adam):
            self.algorithm = "adam"
        elif isinstance(optimizer, keras.optimizers.SGD):
            self.algorithm = "sgd"
        else:
            raise ValueError(f"optimizer={type(optimizer).__name__}: the "
                             f"look-ahead unrolls {ALGORITHMS} only")
        extras = [name for name in _EXTRAS
                  if getattr(optimizer, name, None) not in (None, 0)]
        if extras:
            raise ValueError(f"optimizer has {extras}, which the look-ahead "
                             "does not reproduce")
        if isinstance(optimizer._learning_rate,
                      keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError("optimizer has a learning rate schedule, which "
                             "the look-ahead does not reproduce")
        if not optimizer.built:
            raise ValueError("optimizer must be built on the variables")
        constrained = [variable.name for variable in self.variables
                       if getattr(variable, "constraint", None) is not None]
        if constrained:
            # Keras projects these after each update; the look-ahead not.
            raise ValueError(f"variables {constrained} have constraints, "
                             "which the look-ahead does not reproduce")
        try:
            self._indices = [optimizer._get_variable_index(variable)
                             for variable in self.variables]
        except KeyError:
            raise ValueError("optimizer was not built on these variables") \
                from None

    def state(self):
        """The optimizer's slots for ``variables`` now, as tensors.

        Returns:
            Adam: ``AdamState`` (m, v and the iterations done); SGD with
            momentum: the list of velocities; plain SGD: ``()``.
        """
        optimizer = self.optimizer

        def read(slots):
            # Keras keeps one slot per variable, in the order it was built
            # on; _get_variable_index maps a variable to its position.
            return [tf.convert_to_tensor(slots[index])
                    for index in self._indices]

        if self.algorithm == "adam":
            return AdamState(read(optimizer._momentums),
                             read(optimizer._velocities),
                             tf.convert_to_tensor(optimizer.iterations))
        if optimizer.momentum:
            return read(optimizer.momentums)
        return ()

    def step(self, params, grads, state):
        """One update of ``params`` down ``grads``; returns ``(params,
        state)``. The optimizer's variables are read, never written."""
        optimizer = self.optimizer
        learning_rate = tf.convert_to_tensor(optimizer.learning_rate)
        if self.algorithm == "adam":
            return adam_step(params, grads, state, learning_rate,
                             optimizer.beta_1, optimizer.beta_2,
                             optimizer.epsilon)
        if optimizer.momentum:
            return momentum_step(params, grads, state, learning_rate,
                                 optimizer.momentum, optimizer.nesterov)
        return sgd_step(params, grads, learning_rate), state


def unroll(loss_fn, params, look_ahead, steps, clip=0.0):
    """K differentiable steps of an optimizer on ``loss_fn``.

    Each step's gradient is taken with its own tape inside whatever tape
    records the call, so an outer tape differentiates the result through
    every step: through the parameters and through the gradients, whose
    dependence on the outer variables (the generator's, for an unrolled
    GAN) is the look-ahead's second-order term.

    Args:
        loss_fn: callable mapping a list of parameter tensors to a scalar.
        params: list of tensors, the starting parameters.
        look_ahead: ``LookAheadOptimizer`` whose state the steps continue.
        steps: K, a non-negative integer.
        clip: > 0: each step clips the parameters to [-clip, clip], as
            WGAN's critic update does after each step.

    Returns:
        The list of parameters after K steps.
    """
    params = [tf.convert_to_tensor(param) for param in params]
    state = look_ahead.state()
    for _ in range(int(steps)):
        with tf.GradientTape() as tape:
            tape.watch(params)
            loss = loss_fn(params)
        grads = tape.gradient(loss, params)
        params, state = look_ahead.step(params, grads, state)
        if clip:
            params = [tf.clip_by_value(param, -clip, clip)
                      for param in params]
    return params
