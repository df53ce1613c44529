"""Walks and arithmetic in a generator's code space.

Radford, Metz & Chintala (2016), "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks", sections 6.1 and 6.3:
decoding the codes on a line between two codes shows whether the generator
has learnt a smooth manifold (images that change gradually) or memorized
(sharp jumps); and averaged codes of groups of samples that share a concept
add and subtract like word vectors (smiling woman - neutral woman + neutral
man = smiling man). White (2016), "Sampling Generative Networks", argues for
the spherical path: under a Gaussian prior in many dimensions almost every
code lies near the sphere of radius sqrt(D), which the straight line's
middle leaves.

Functions on codes (numpy), and ``python -m tfgen.latent --workdir=DIR``,
which draws both figures for any trained model with ``decode`` and a prior
over its codes (GANs, VAEs):

- ``interpolations.png``: rows of decoded codes on the straight line and on
  the great circle between the same pairs of codes drawn from the prior;
- ``arithmetic.png``: for ``--expression=A-B+C`` (class labels), the decoded
  mean code of each group, the result and the result with small jitter.
  Groups are codes of the class: a model with ``encode`` encodes the test
  images of that class; otherwise codes are drawn from the prior and
  grouped by the class that the dataset's feature classifier
  (``tfgen.frechet``) gives their decoded images.
"""

import pathlib
import re
import sys

from absl import app
from absl import flags
import numpy as np

from tfgen import errors
from tfgen import evaluate

# Groups average this many codes (the DCGAN paper averaged three).
GROUP_SIZE = 8

# Codes drawn from the prior to find GROUP_SIZE of each class.
_CANDIDATES = 2000

# Standard deviation of the noise added to the result's code to show its
# neighbourhood (the paper's 0.25 on a uniform prior).
_JITTER = 0.25

_TERM = re.compile(r"([+-]?)\s*(\d+)")


def linear_interpolation(start, end, num_steps):
    """Codes on the straight line from ``start`` to ``end``, both included.

    Args:
        start, end: (D,) codes.
        num_steps: points on the path, >= 2.

    Returns:
        (num_steps, D) float32.

    Raises:
        ValueError: num_steps < 2 or codes of different shapes.
    """
    start, end, weights = _path_arguments(start, end, num_steps)
    return ((1 - weights) * start + weights * end).astype(np.float32)


def spherical_interpolation(start, end, num_steps):
    """Codes on the great circle from ``start`` to ``end`` (slerp).

    slerp(a, b; t) = sin((1-t) w) / sin(w) a + sin(t w) / sin(w) b, with w
    the angle between a and b; the norm moves smoothly from |a| to |b|
    instead of dipping in the middle as the straight line's does. Falls
    back to the straight line for (nearly) parallel codes, where the great
    circle is not defined.

    Args, Returns, Raises: as ``linear_interpolation``.
    """
    start, end, weights = _path_arguments(start, end, num_steps)
    norms = np.linalg.norm(start) * np.linalg.norm(end)
    cosine = np.clip(np.dot(start, end) / norms, -1.0, 1.0) if norms else 1.0
    angle = np.arccos(cosine)
    if np.sin(angle) < 1e-6:
        return linear_interpolation(start, end, num_steps)
    return ((np.sin((1 - weights) * angle) * start
             + np.sin(weights * angle) * end) / np.sin(angle)).astype(
                 np.float32)


def _path_arguments(start, end, num_steps):
    start = np.asarray(start, np.float64).ravel()
    end = np.asarray(end, np.float64).ravel()
    if start.shape != end.shape:
        raise ValueError(f"codes of shapes {start.shape} and {end.shape}")
    if int(num_steps) < 2:
        raise ValueError(f"num_steps={num_steps} must be at least 2")
    weights = np.linspace(0.0, 1.0, int(num_steps))[:, np.newaxis]
    return start, end, weights


def parse_expression(expression):
    """``"7-1+0"`` to ``[(7, 1), (1, -1), (0, 1)]``: classes and signs.

    Raises:
        UsageError: not a sum of class numbers.
    """
    text = expression.replace(" ", "")
    terms = _TERM.findall(text)
    if not terms or "".join(sign + number for sign, number in terms) != text:
        raise errors.UsageError(
            f"--expression={expression!r} is not a sum of class numbers "
            "such as 7-1+0")
    return [(int(number), -1 if sign == "-" else 1) for sign, number in terms]


def group_means(codes, groups, wanted, group_size=GROUP_SIZE):
    """The mean code of each wanted group.

    Args:
        codes: (N, D) codes.
        groups: (N,) the group of each code.
        wanted: the groups to average.
        group_size: codes averaged per group: the first ones found.

    Returns:
        ``{group: (D,) mean code}``.

    Raises:
        UsageError: a group has fewer than ``group_size`` codes.
    """
    codes, groups = np.asarray(codes), np.asarray(groups)
    means = {}
    for group in wanted:
        members = codes[groups == group][:group_size]
        if len(members) < group_size:
            raise errors.UsageError(
                f"only {len(members)} codes of class {group} were found "
                f"(needed {group_size}); the model rarely makes that class")
        means[group] = members.mean(axis=0)
    return means


def combine(means, terms):
    """sum_i sign_i * means[class_i] for ``parse_expression``'s terms."""
    return sum(sign * means[group] for group, sign in terms)


# --- The command. ----------------------------------------------------------

# --workdir, --data_dir and --manual_dir are tfgen.evaluate's flags.
flags.DEFINE_string("output_dir", None, "Where to write the figures "
                    "(default: the workdir).")
flags.DEFINE_string("expression", "7-1+4",
                    "Arithmetic on the classes' mean codes, such as 7-1+4.")
flags.DEFINE_integer("num_rows", 6, "Pairs of codes interpolated.")
flags.DEFINE_integer("num_steps", 10, "Codes on each path.")
flags.DEFINE_integer("walk_seed", 0, "Seeds the codes drawn from the prior.")
FLAGS = flags.FLAGS


def _decoder(model, labels=None):
    """codes (N, D) -> [0, 1] images, in batches."""
    from tfgen import data

    def decode(codes):
        arguments = {"codes": np.asarray(codes, np.float32)}
        if labels is not None:
            arguments["labels"] = np.full(len(codes), labels, np.int64)
        images = np.asarray(model.decode(**arguments)["images"])
        return np.clip(data.unit_intensities(
            images, model.config.preprocessing), 0, 1)
    return decode


def _prior_codes(model, count, seed):
    import tensorflow as tf
    return np.asarray(model.code_prior().sample(
        count, seed=tf.constant([seed, 17], tf.int32)))


def interpolation_rows(model, num_rows, num_steps, seed):
    """Decoded paths: ``num_rows`` straight ones, then the same pairs'
    great circles; a conditional model's row r keeps class r mod K."""
    ends = _prior_codes(model, 2 * num_rows, seed)
    labelled = "labels" in model.capability_inputs("decode")
    rows = {"linear": [], "spherical": []}
    for row in range(num_rows):
        label = row % model.data_info.num_classes if labelled else None
        decode = _decoder(model, label)
        start, end = ends[2 * row], ends[2 * row + 1]
        rows["linear"].append(decode(linear_interpolation(start, end,
                                                          num_steps)))
        rows["spherical"].append(decode(spherical_interpolation(
            start, end, num_steps)))
    return rows


def arithmetic_rows(model, terms, test_split, seed, *, data_dir=None,
                    manual_dir=None):
    """Each group's decoded mean code, then the result and its jitter.

    Returns:
        ``(rows, labels)`` for ``tfgen.plots.plot_image_rows``.

    Raises:
        UsageError: a conditional decoder (the label is an input, not a
            direction of the code space), or a class too rare to average.
    """
    from tfgen import data
    from tfgen import frechet

    if "labels" in model.capability_inputs("decode"):
        raise errors.UsageError(
            f"{model.name}'s decode takes the class as an input; code "
            "arithmetic on classes needs a model whose codes carry them")
    decode = _decoder(model)
    wanted = sorted({group for group, _ in terms})
    if "encode" in model.capabilities and set(
            model.capability_inputs("encode")) == {"images"}:
        images, labels = data.dataset_arrays(test_split)
        codes = np.asarray(model.encode(images=images)["codes"])
        how = "encoded test images"
    else:
        classifier = frechet.classifier_for(
            model.config.dataset, data_dir=data_dir, manual_dir=manual_dir)
        codes = _prior_codes(model, _CANDIDATES, seed)
        labels = classifier.predict_labels(decode(codes))
        how = "prior codes grouped by the classifier"
    means = group_means(codes, labels, wanted)
    result = combine(means, terms)
    rng = np.random.default_rng(seed)
    jittered = result + _JITTER * rng.standard_normal(
        (GROUP_SIZE - 1, result.size))
    rows = [decode(np.stack([means[group] for group, _ in terms])),
            decode(np.concatenate([result[np.newaxis], jittered]))]
    expression = "".join(("-" if sign < 0 else "+") + str(group)
                         for group, sign in terms).lstrip("+")
    return rows, [f"class means ({how})", f"{expression}, then jittered"]


def write_figures(prepared, output_dir, *, expression, num_rows, num_steps,
                  seed, data_dir=None, manual_dir=None):
    """Writes ``interpolations.png`` and ``arithmetic.png``; returns paths.

    Args:
        prepared: ``tfgen.evaluate.prepare_workdir``'s result.
        output_dir: the folder written into.
        expression, num_rows, num_steps, seed: as the flags.
        data_dir, manual_dir: where the feature classifier's data are.
    """
    from tfgen import plots

    model = prepared.model
    if "decode" not in model.capabilities or model.code_prior() is None:
        raise errors.UsageError(
            f"{prepared.provenance['model']} has no decode with a prior over "
            "its codes; latent walks need one (a GAN or a VAE)")
    name = prepared.provenance["model"]
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    rows = interpolation_rows(model, num_rows, num_steps, seed)
    paths = {"interpolations": output_dir / "interpolations.png",
             "arithmetic": output_dir / "arithmetic.png"}
    plots.plot_image_rows(
        rows["linear"] + rows["spherical"], paths["interpolations"],
        row_labels=["linear"] * num_rows + ["spherical"] * num_rows,
        title=f"{name}: codes on straight and great-circle paths")
    arithmetic, labels = arithmetic_rows(
        model, parse_expression(expression), prepared.splits["test"], seed,
        data_dir=data_dir, manual_dir=manual_dir)
    plots.plot_image_rows(arithmetic, paths["arithmetic"], row_labels=labels,
                          title=f"{name}: arithmetic on mean codes")
    return paths


def main(argv):
    if len(argv) > 1:
        print(f"unexpected arguments: {' '.join(argv[1:])}", file=sys.stderr)
        return 2
    try:
        if not FLAGS.workdir:
            raise errors.UsageError("--workdir is required")
        parse_expression(FLAGS.expression)
        if FLAGS.num_rows < 1 or FLAGS.num_steps < 2:
            raise errors.UsageError("--num_rows must be >= 1 and --num_steps "
                                    ">= 2")
        prepared = evaluate.prepare_workdir(
            FLAGS.workdir, data_dir=FLAGS.data_dir,
            manual_dir=FLAGS.manual_dir)
        paths = write_figures(
            prepared, FLAGS.output_dir or FLAGS.workdir,
            expression=FLAGS.expression, num_rows=FLAGS.num_rows,
            num_steps=FLAGS.num_steps, seed=FLAGS.walk_seed,
            data_dir=FLAGS.data_dir, manual_dir=FLAGS.manual_dir)
    except errors.UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in paths.values():
        print(path)
    return 0


if __name__ == "__main__":
    app.run(main)
