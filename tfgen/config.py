"""Model configs: locked ``ml_collections.ConfigDict``s and their overrides.

Every model's config starts from ``base_config()``, which holds the fields
the training loop reads (dataset, preprocessing, batch size, epochs, named
optimizers, seed); the model adds its own hyperparameters and the config is
locked, so a misspelt override is an error rather than a silently ignored
value.

On the command line a config value is overridden with ``--config.NAME=VALUE``
(dotted names reach nested fields), in the manner of Flax and big_vision.
"""

import ast
import json
import numbers

import ml_collections

from tfgen import errors
from tfgen import optimizers

PREPROCESSINGS = (
    "binarize_static",   # Bernoulli(pixel intensity), drawn once per image.
    "binarize_dynamic",  # Bernoulli(pixel intensity), drawn anew each epoch.
    "unit",              # Float intensities in [0, 1].
    "symmetric",         # Float intensities in [-1, 1].
    "levels",            # Integer gray levels in [0, num_levels).
    "identity",          # Float32 values as stored: points, not images.
)


def base_config(**model_fields):
    """Returns an unlocked config with the fields the training loop reads.

    Args:
        **model_fields: the model's own hyperparameters, added to the config.

    Returns:
        An unlocked ``ConfigDict``; the caller locks it when complete.
    """
    config = ml_collections.ConfigDict()
    config.dataset = "digits"
    config.preprocessing = "binarize_dynamic"
    config.batch_size = 64
    config.epochs = 50
    # Named optimizers (tfgen.optimizers): a model with one optimizer uses
    # "model"; models with several (pretraining and fine-tuning, a
    # generator and a discriminator) replace this dict with theirs.
    config.optimizers = ml_collections.ConfigDict(
        {optimizers.DEFAULT: optimizers.optimizer_config("adam", 1e-3)})
    # Seeds the data pipeline, the weights and every stateless sampler.
    config.seed = 0
    # Number of images in the sample grid written at the end of training.
    config.num_grid_samples = 64
    # A sample grid goes to TensorBoard every this many epochs (and after
    # the last); 0: only at the end. Sequential samplers are slow.
    config.sample_every_epochs = 1
    # Training steps per call of the compiled train function: more amortize
    # the per-call cost of small batches.
    config.steps_per_execution = 1
    # Compile train_step with XLA.
    config.jit_compile = False
    # After training, a sampler of labelled images is scored by the Fréchet
    # distance of its samples in a small classifier's features
    # (tfgen.frechet; the classifier is trained once per dataset, cached).
    config.sample_quality = True
    # After training, a sampler of images is scored by the Parzen-window
    # log-likelihood of the test images under a kernel density estimate
    # fitted to this many samples (tfgen.parzen); 0: not scored.
    config.parzen_samples = 10000
    for key, value in model_fields.items():
        config[key] = value
    return config


VARIANTS = (None, "tiny")

# The largest config.seed: Keras seeds NumPy's global generator with it,
# which takes seeds in [0, 2**32).
MAX_SEED = 2**32 - 1


def check_variant(model_name, variant):
    """Checks a ``get_config`` variant: ``None`` (default) or ``"tiny"``.

    Raises:
        ValueError: any other variant.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown {model_name} config variant {variant!r}; "
                         "expected None or 'tiny'")


def make_tiny(config, **model_fields):
    """Turns a config into its ``"tiny"`` variant, in place: one epoch, a
    16-image sample grid, no sample-quality scoring (it trains a
    classifier), no Parzen-window likelihood (it draws thousands of
    samples), and the model's smaller ``model_fields``.

    Args:
        config: an unlocked config holding every field of ``model_fields``.
        **model_fields: the model's fields and their tiny values (also
            ``epochs`` or ``num_grid_samples``, to keep others).

    Returns:
        The same config, for chaining.
    """
    config.update({"epochs": 1, "num_grid_samples": 16,
                   "sample_quality": False, "parzen_samples": 0,
                   **model_fields})
    return config


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def require_positive(config, names):
    """Checks that each field of ``names`` is an integer >= 1.

    Raises:
        UsageError: "config.NAME=VALUE must be a positive integer", for the
            first field that is not.
    """
    for name in names:
        value = config[name]
        if not _is_integer(value) or value < 1:
            raise errors.UsageError(
                f"config.{name}={value!r} must be a positive integer")


def require_non_negative(config, names):
    """Checks that each field of ``names`` (a number) is >= 0.

    Raises:
        UsageError: "config.NAME=VALUE must be non-negative", for the first
            field that is not.
    """
    for name in names:
        if config[name] < 0:
            raise errors.UsageError(
                f"config.{name}={config[name]!r} must be non-negative")


def require_odd(config, names, minimum=1):
    """Checks that each field of ``names`` is an odd integer >= ``minimum``
    (a kernel size, centred on its pixel).

    Raises:
        UsageError: "config.NAME=VALUE must be a positive odd integer" (or
            "an odd integer of at least MINIMUM"), for the first field that
            is not.
    """
    for name in names:
        value = config[name]
        if not _is_integer(value) or value < minimum or value % 2 == 0:
            bound = ("a positive odd integer" if minimum <= 1 else
                     f"an odd integer of at least {minimum}")
            raise errors.UsageError(f"config.{name}={value!r} must be {bound}")


def validate_greedy_pretraining(config):
    """Checks the fields of a model pretrained layer by layer.

    ``pretrain_epochs`` >= 0 and ``weight_decay`` >= 0: the fields that the
    deep belief net and the stacked and deep autoencoders share (their
    learning rates and momentum are their optimizers', checked with every
    optimizer).

    Raises:
        UsageError: naming the field that is out of range.
    """
    require_non_negative(config, ("pretrain_epochs", "weight_decay"))


def validate(config):
    """Checks the fields every config shares.

    Raises:
        UsageError: a value is out of its range.
    """
    if config.preprocessing not in PREPROCESSINGS:
        raise errors.UsageError(
            f"config.preprocessing={config.preprocessing!r} is not one of "
            f"{', '.join(PREPROCESSINGS)}")
    if config.num_grid_samples < 1:
        raise errors.UsageError(
            f"config.num_grid_samples={config.num_grid_samples} must be "
            "positive")
    if config.batch_size < 1:
        raise errors.UsageError(
            f"config.batch_size={config.batch_size} must be positive")
    if config.epochs < 0:
        raise errors.UsageError(
            f"config.epochs={config.epochs} must be non-negative")
    if config.steps_per_execution < 1:
        raise errors.UsageError(
            f"config.steps_per_execution={config.steps_per_execution} must be "
            "positive")
    if config.sample_every_epochs < 0:
        raise errors.UsageError(
            f"config.sample_every_epochs={config.sample_every_epochs} must be "
            "non-negative")
    if not _is_integer(config.seed) or not 0 <= config.seed <= MAX_SEED:
        raise errors.UsageError(
            f"config.seed={config.seed!r} must be an integer in "
            f"[0, {MAX_SEED}]")
    parzen_samples = config.get("parzen_samples", 0)
    if not _is_integer(parzen_samples) or parzen_samples < 0:
        raise errors.UsageError(
            f"config.parzen_samples={parzen_samples!r} must be a "
            "non-negative integer")
    optimizers.validate(config)


def _parse_value(key, text, current):
    """Parses ``text`` into the type of the config field's current value."""
    if isinstance(current, str):
        return text
    if isinstance(current, bool):
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise errors.UsageError(
            f"--config.{key}={text!r}: expected true or false")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise errors.UsageError(
            f"--config.{key}={text!r}: expected a {type(current).__name__}"
        ) from None
    if isinstance(current, float) and isinstance(value, int) and not isinstance(
            value, bool):
        value = float(value)
    if isinstance(current, tuple) and isinstance(value, (list, tuple, int)):
        value = tuple(value) if not isinstance(value, int) else (value,)
    if current is not None and type(value) is not type(current):
        raise errors.UsageError(
            f"--config.{key}={text!r}: expected a {type(current).__name__}, "
            f"got a {type(value).__name__}")
    if isinstance(current, tuple):
        value = _parse_items(key, text, value, current)
    return value


def _parse_items(key, text, value, current):
    """Checks a tuple's items against the field's current items.

    An item has a type of the current ones (an int is taken for a float);
    an empty field takes numbers. The models read these tuples as layer
    widths, which a string must not reach.
    """
    kinds = {type(item) for item in current} or {int, float}
    items = []
    for item in value:
        if type(item) is int and float in kinds and int not in kinds:
            item = float(item)
        if type(item) not in kinds:
            expected = " or ".join(sorted(kind.__name__ for kind in kinds))
            raise errors.UsageError(
                f"--config.{key}={text!r}: expected a tuple of {expected}, "
                f"got {item!r}")
        items.append(item)
    return tuple(items)


def apply_overrides(config, overrides):
    """Applies ``{dotted_name: text}`` overrides to a locked config, in place.

    An optimizer entry (``optimizers.NAME``) also takes settings it does not
    hold yet, any its Keras optimizer accepts (``validate`` checks them);
    when its ``algorithm`` changes, the old algorithm's own settings that
    the overrides do not set are dropped, and a line on stdout names them.

    Args:
        config: a locked ``ConfigDict``.
        overrides: mapping of dotted field names to their textual values, as
            given on the command line.

    Returns:
        The same config, for chaining.

    Raises:
        UsageError: a name is not a field of the config, or a value does not
            parse as the field's type.
    """
    switched = {}  # optimizer name: (its algorithm before, settings set)
    for key, text in overrides.items():
        *path, leaf = key.split(".")
        node = config
        for part in path:
            if part not in node or not isinstance(
                    node[part], ml_collections.ConfigDict):
                raise errors.UsageError(_unknown_key(config, key))
            node = node[part]
        entry = _optimizer_name(path)
        if leaf not in node and entry is None:
            raise errors.UsageError(_unknown_key(config, key))
        if entry is not None:
            switched.setdefault(entry, (node.algorithm, set()))[1].add(leaf)
        with node.unlocked():
            node[leaf] = (_parse_value(key, text, node[leaf]) if leaf in node
                          else _parse_setting(key, text))
    for name, (before, settings) in switched.items():
        _drop_settings_of(before, config.optimizers[name], name, settings)
    return config


def _optimizer_name(path):
    """The optimizer an override's path (without its leaf) reaches, if it
    reaches an entry of ``config.optimizers``; otherwise None."""
    return path[1] if len(path) == 2 and path[0] == "optimizers" else None


def _parse_setting(key, text):
    """Parses a setting the command line adds to an optimizer entry: a
    number, true or false, None, or else a name."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise errors.UsageError(
        f"--config.{key}={text!r}: expected a number, true or false, None "
        "or a name")


def _drop_settings_of(before, entry, name, kept):
    """After the command line switched an optimizer's algorithm, drops the
    old algorithm's own settings that the command line did not set, with a
    line naming them."""
    if entry.algorithm == before:
        return
    dropped = [setting for setting in optimizers.algorithm_settings(entry)
               if setting not in kept]
    if not dropped:
        return
    print(f"--config.optimizers.{name}.algorithm={entry.algorithm}: dropped "
          + ", ".join(f"{setting}={entry[setting]!r}" for setting in dropped)
          + f" (settings of {before}); set those of {entry.algorithm} with "
          f"--config.optimizers.{name}.SETTING=VALUE")
    with entry.unlocked():
        for setting in dropped:
            del entry[setting]


def _unknown_key(config, key):
    fields = ", ".join(sorted(_flat_keys(config)))
    return f"unknown config field {key!r}; fields: {fields}"


def _flat_keys(config, prefix=""):
    for key, value in config.items():
        if isinstance(value, ml_collections.ConfigDict):
            yield from _flat_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def split_override_args(argv):
    """Separates ``--config.NAME=VALUE`` arguments from the others.

    Args:
        argv: the command line, program name first.

    Returns:
        ``(other_argv, overrides)`` where ``overrides`` maps dotted names to
        their textual values, in command-line order.

    Raises:
        UsageError: a ``--config.NAME`` argument has no ``=VALUE``.
    """
    rest, overrides = [], {}
    for arg in argv:
        if arg.startswith("--config."):
            name, sep, value = arg[len("--config."):].partition("=")
            if not sep or not name:
                raise errors.UsageError(
                    f"{arg!r}: write config overrides as --config.NAME=VALUE")
            overrides[name] = value
        else:
            rest.append(arg)
    return rest, overrides


def to_json(config):
    """Serializes a config to JSON (tuples become lists)."""
    return config.to_json(indent=2, sort_keys=True)


def from_json(text, like):
    """Rebuilds a config from ``to_json`` output, typed after ``like``.

    Args:
        text: JSON written by ``to_json``.
        like: a config of the same model (its default), whose field types
            (tuples in particular) the result follows.

    Returns:
        A locked ``ConfigDict`` equal to the one that was serialized.
    """
    values = json.loads(text)
    config = like.copy_and_resolve_references()

    def assign(node, data, path=()):
        for key, value in data.items():
            if _optimizer_name([*path, key]) is not None and key in node:
                # An entry is open: it holds the settings it was saved with.
                with node.unlocked():
                    node[key] = ml_collections.ConfigDict(value)
            elif isinstance(node[key], ml_collections.ConfigDict):
                assign(node[key], value, (*path, key))
            else:
                with node.unlocked():
                    node[key] = tuple(value) if isinstance(
                        node[key], tuple) else value

    assign(config, values)
    config.lock()
    return config
