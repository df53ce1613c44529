"""Fast generation against a full pass per value, side by side.

From the repository root (``python benchmarks/fast_sampling.py`` works as
well):

    python -m benchmarks.fast_sampling
    python -m benchmarks.fast_sampling --models=pixelcnn --sizes=28x28 \\
        --num_images=8 --repeats=3

Ramachandran et al. (2017), "Fast Generation for Convolutional
Autoregressive Models": an autoregressive sampler that carries the
activations of the values already drawn pays one step per value, where the
plain sampler runs the whole network for each of the D values. Every
registered autoregressive model that has such a sampler (that implements
the base's ``fast_sampler_logits`` hook; found in the registry, so new ones
join by themselves) is timed both ways in this one process, on the same
seeds:

* ``fast``: the model's fast sampler, what ``sample`` runs by default;
* ``naive``: ``fast_sampling`` off, a full pass of ``logits`` per value.

Both are compiled once (a warm-up draw of one image) and then timed on a
batch of ``--num_images`` images, ``--repeats`` times alternating; the
table gives the median seconds per image of each, their ratio naive /
fast, and whether both drew exactly the same images. Sizes: ``8x8``, the
shape of ``digits`` (17 levels), and ``28x28``, the shape of binarized
MNIST (2 levels, as in van den Oord et al. 2016, "Pixel Recurrent Neural
Networks", section 5). Weights are the default config's untrained
initial ones (``--variant=tiny``: the tiny config's): timing does
not depend on training, and the images' equality is tested with random
weights in ``tests/zoo/autoregressive/test_fast_samplers.py``.

Prints one JSON line (the rows, and the command, commit, core count and
date of the run) and a markdown table. ``--results=PATH`` also writes the
README's table, ``ratios`` (per model, full pass / fast at each size), as a
``tfgen.results`` file whose ``raw`` is that JSON document;
``--from_output=FILE`` reads a document an earlier run printed instead of
measuring, and writes ``--results`` with that run's provenance. The
README's table comes from

    python -m benchmarks.fast_sampling \\
        --models=fvbn,pixelcnn,row_lstm,diagonal_bilstm,gated_pixelcnn,pixelcnn_pp \\
        --num_images=4 --repeats=2 --results=results/fast_sampling.json

Bad flags print one line on stderr and exit with status 2.
"""

import json
import pathlib
import statistics
import sys
import time

from absl import app
from absl import flags

# Run as a script, the repository root is not on the path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tfgen import cli  # noqa: E402
from tfgen import errors  # noqa: E402

FLAGS = flags.FLAGS

# name: (image shape, levels, preprocessing, the dataset it is shaped as)
SIZES = {
    "8x8": ((8, 8, 1), 17, "levels", "digits"),
    "28x28": ((28, 28, 1), 2, "binarize_dynamic", "binarized MNIST"),
}

flags.DEFINE_list("models", None,
                  "Models to time (default: every registered autoregressive "
                  "model with a fast sampler).")
flags.DEFINE_list("sizes", list(SIZES), f"Image sizes, of {list(SIZES)}.")
flags.DEFINE_integer("num_images", 4, "Images per timed draw.",
                     lower_bound=1)
flags.DEFINE_integer("repeats", 1, "Timed draws of each sampler.",
                     lower_bound=1)
flags.DEFINE_enum("variant", None, ["tiny"],
                  "tiny: the models' tiny configs (a test run).")
cli.define_results_flags()


def fast_sampler_names():
    """Registered autoregressive models with a fast sampler, sorted."""
    from tfgen import registry
    import zoo  # noqa: F401  (fills the registry)

    return sorted(spec.name for spec in registry.specs()
                  if spec.family == "autoregressive"
                  and spec.model_class.has_fast_sampler())


def check_flags(models, sizes, available):
    """The models to time (``models``, or all ``available``).

    Raises:
        UsageError: a model without a fast sampler, or an unknown size.
    """
    for name in models or ():
        if name not in available:
            raise errors.UsageError(
                f"--models: {name!r} has no fast sampler; models with one: "
                f"{', '.join(available)}")
    for size in sizes:
        if size not in SIZES:
            raise errors.UsageError(
                f"--sizes: {size!r} is not one of {', '.join(SIZES)}")
    return list(models or available)


def compiled_draw(model, fast):
    """``model.draw_unknown`` as one compiled function.

    Args:
        model: an autoregressive model.
        fast: True for the model's fast sampler; False for full passes of
            the whole network at every step.

    Returns:
        A ``tf.function`` of (levels, known, seed), any batch size.
    """
    import tensorflow as tf

    def draw(levels, known, seed):
        # The switch is read while the function is traced, once; the
        # model's own setting is restored after the trace.
        setting = model.fast_sampling
        model.fast_sampling = fast
        try:
            return model.draw_unknown(levels, known, seed)
        finally:
            model.fast_sampling = setting

    image = tf.TensorSpec((None,) + model.image_shape, tf.int32)
    return tf.function(draw, input_signature=[
        image, tf.TensorSpec(image.shape, tf.bool),
        tf.TensorSpec([None], tf.int64)])


def build(name, size, variant=None):
    """The model ``name`` of its (variant) config at ``size``, untrained."""
    from tfgen import registry
    from tfgen.data import DataInfo

    shape, num_levels, preprocessing, _ = SIZES[size]
    spec = registry.get(name)
    config = spec.get_config(variant)
    with config.unlocked():
        config.preprocessing = preprocessing
    info = DataInfo(name=f"random_{size}", event_shape=shape,
                    num_levels=num_levels, split_sizes={"train": 1})
    return spec.build(config, info)


def measure(name, size, *, num_images, repeats, variant=None):
    """Times the fast and the naive sampler of one model at one size.

    Returns:
        A dict: the setting, the median seconds per image of each sampler,
        ``ratio`` (naive / fast) and ``same_images``.
    """
    import numpy as np
    import tensorflow as tf

    model = build(name, size, variant)
    samplers = {"fast": compiled_draw(model, True),
                "naive": compiled_draw(model, False)}

    def draw(sampler, count):
        shape = (count,) + model.image_shape
        return samplers[sampler](tf.zeros(shape, tf.int32),
                                 tf.zeros(shape, tf.bool),
                                 tf.range(count, dtype=tf.int64)).numpy()

    for sampler in samplers:  # compiles: one image
        draw(sampler, 1)
    seconds = {sampler: [] for sampler in samplers}
    images = {}
    for _ in range(repeats):
        for sampler in samplers:
            start = time.perf_counter()
            images[sampler] = draw(sampler, num_images)
            seconds[sampler].append(
                (time.perf_counter() - start) / num_images)
    fast, naive = (statistics.median(seconds[s]) for s in ("fast", "naive"))
    shape, num_levels, _, shaped_as = SIZES[size]
    return {"model": name, "size": size, "shaped_as": shaped_as,
            "image_shape": list(shape), "num_levels": num_levels,
            "num_images": num_images, "repeats": repeats,
            "fast_seconds_per_image": fast,
            "naive_seconds_per_image": naive, "ratio": naive / fast,
            "same_images": bool(np.array_equal(images["fast"],
                                               images["naive"]))}


def format_markdown(rows):
    """The rows as a markdown table."""
    lines = ["| model | image | levels | images x repeats | fast s/image "
             "| naive s/image | naive / fast | same images |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| `{row['model']}` | {row['size']} ({row['shaped_as']}) | "
            f"{row['num_levels']} | {row['num_images']} x {row['repeats']} "
            f"| {row['fast_seconds_per_image']:.4f} | "
            f"{row['naive_seconds_per_image']:.4f} | {row['ratio']:.1f} | "
            f"{'yes' if row['same_images'] else 'NO'} |")
    return "\n".join(lines)


def results_tables(document):
    """The README's table of a document: full pass / fast per model, size.

    One row per model, one column per size, in the order measured; a
    ratio whose samplers drew different images says so in its cell.
    """
    from tfgen import results

    rows = document["rows"]
    sizes = list(dict.fromkeys(row["size"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    measured = {(row["model"], row["size"]): row for row in rows}

    def ratio(row):
        if row is None:
            return None
        if row["same_images"]:
            return row["ratio"]
        return results.cell(row["ratio"], "{:.1f} (different images)")

    columns = [f"{size}: full pass / fast" for size in sizes]
    first = rows[0] if rows else {"num_images": 0, "repeats": 0}
    return {"ratios": results.table(
        ["model"] + columns,
        [[f"`{model}`"] + [ratio(measured.get((model, size)))
                           for size in sizes] for model in models],
        formats={column: ".1f" for column in columns},
        notes=(f"Seconds per image of the full-pass sampler over the "
               f"fast one's: medians over {first['repeats']} timed draw(s) "
               f"of {first['num_images']} images by each, alternating; "
               f"{document['weights']} weights"
               f"{' of the tiny configs' if document['variant'] else ''}; "
               "8x8: digits' shape, 17 levels; 28x28: binarized MNIST's, "
               "2 levels."))}


def measure_all(names):
    """Times every model at every size of the flags; the JSON document."""
    from tfgen import results

    # Recorded before measuring: the commit that is measured, even if the
    # checkout moves on during a long run.
    origin = results.provenance()
    rows = []
    for size in FLAGS.sizes:
        for name in names:
            rows.append(measure(name, size, num_images=FLAGS.num_images,
                                repeats=FLAGS.repeats,
                                variant=FLAGS.variant))
    return {"benchmark": "fast_sampling", **origin,
            "variant": FLAGS.variant, "weights": "untrained (initial)",
            "rows": rows}


def main(argv):
    del argv  # Checked by cli.parse_flags.
    from tfgen import results

    try:
        if FLAGS.from_output:
            document = results.read_output(FLAGS.from_output,
                                           "fast_sampling", required=("rows",))
        else:
            with cli.native_stderr_held():
                available = fast_sampler_names()
            names = check_flags(FLAGS.models, FLAGS.sizes, available)
    except results.ResultsError as error:
        cli.fail(f"--from_output={error}", 2)
    except errors.UsageError as error:
        cli.fail(str(error), 2)
    if not FLAGS.from_output:
        document = measure_all(names)
    if FLAGS.results:
        results.write_measured(FLAGS.results, results_tables(document),
                               document)
    print(json.dumps(document))
    print()
    print(format_markdown(document["rows"]))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
