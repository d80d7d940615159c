"""The supervised class mixer on shapes (paper §3.1, Fig. 6 and Fig. 11).

    python -m amr_tf.experiments.class_mixer --quick

Trains AMR with the class mixer (eq. 6) beside Bernoulli mixup on `shapes`,
whose three binary attributes (round, warm, large) are known, and measures
the mix attribute accuracy: how often a decoded mix Mix_sup(f(x1), f(x2), y~)
has the attributes round(y~) it was asked for, judged by the dataset's
feature classifier. For scale it prints the same classifier's accuracy on
real images and on reconstructions, and the accuracy of a target-blind
"mix" that returns the reconstruction of x1.

Figures under --output_dir: attribute_mixes.png (pairs with opposite
attributes, decoded for every target combination: Fig. 6 style) and
class_mixer_masks.png (the mixer's channel probabilities p per attribute
combination: Fig. 11 style).
"""

import dataclasses
import itertools
import os

import numpy as np
from absl import flags
from absl import logging

from amr_tf import cli
from amr_tf import inference
from amr_tf.errors import UsageError
from amr_tf.eval import classifier as classifier_lib
from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import mixes
from amr_tf.eval import summary
from amr_tf.experiments import common
from amr_tf.experiments import figures

FIGURE_PAIRS = 4

flags.adopt_module_key_flags(common)  # --help lists them.
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Options:
    output_dir: str
    quick: bool = False
    classifier_dir: str | None = None
    overrides: tuple[str, ...] = ()
    eval_settings: metrics_lib.EvalSettings | None = None


def run(options):
    """Trains, evaluates and draws; returns the metrics."""
    extra = common.QUICK_FLAGS if options.quick else common.FULL_FLAGS["shapes"]
    run_ = common.Run("amr_class_mixer", "AMR (class mixer + Bernoulli)",
                      (common.config_flag("shapes"), *extra,
                       "--mixer=class_mixer", "--base_mixer=bernoulli"))
    (trained,) = common.train_runs([run_], options.output_dir, options.overrides)
    restored = trained.restored
    settings = options.eval_settings or metrics_lib.EvalSettings(
        classifier_dir=options.classifier_dir
        or os.path.join(options.output_dir, "classifiers"))
    metrics = metrics_lib.evaluate(restored, ["mix_attributes", "consistency"],
                                   settings)
    metrics["copy_first_source_accuracy_all_attributes"] = (
        _copy_first_source_accuracy(restored, settings))
    metrics["train_seconds"] = trained.seconds
    summary.write_metrics(restored.config.model_dir, metrics)

    names = restored.info.attribute_names
    _save_attribute_mixes(
        os.path.join(options.output_dir, "attribute_mixes.png"), restored)
    combinations = np.array(list(itertools.product([0, 1], repeat=len(names))),
                            np.float32)
    figures.save_mask_heatmap(
        os.path.join(options.output_dir, "class_mixer_masks.png"),
        np.asarray(restored.model.class_mixer.probabilities(combinations)),
        [_bits(row) for row in combinations],
        title=f"class mixer p per target ({', '.join(names)})")

    rows = [[f"mix accuracy: {name}", f"{metrics[f'mix_accuracy_{name}']:.3f}"]
            for name in names]
    rows += [
        ["mix accuracy: all attributes",
         f"{metrics['mix_accuracy_all_attributes']:.3f}"],
        ["target-blind copy of x1: all attributes",
         f"{metrics['copy_first_source_accuracy_all_attributes']:.3f}"],
        ["classifier on reconstructions (per attribute)",
         f"{metrics['reconstruction_attribute_accuracy']:.3f}"],
        ["classifier on real test images (per attribute)",
         f"{metrics['classifier_test_accuracy']:.3f}"],
        ["mixing consistency", f"{metrics['mixing_consistency']:.4g}"],
        ["iterations / train s", f"{metrics['iterations']} / {trained.seconds:.0f}"],
    ]
    table = common.markdown_table(["quantity", "value"], rows)
    table += (f"\n\n{settings.num_examples} held-out examples, each mixed with "
              "a random partner; target y~ = α y1 + (1 - α) y2, α ~ U(0, 1).")
    common.write_outputs(options.output_dir, metrics, table)
    return metrics


def _copy_first_source_accuracy(restored, settings):
    """All-attribute accuracy of returning x1's reconstruction as the mix."""
    classifier = classifier_lib.load_or_train(
        restored.config.data, restored.info, settings.classifier_dir,
        settings.classifier)
    examples = metrics_lib.first_examples(restored.config.data, "test",
                                          settings.num_examples)
    _, targets = mixes.attribute_targets(
        restored.model.class_mixer, examples["attributes"], settings.seed)
    model = restored.model
    copies = inference.decode(model, inference.encode(model, examples["inputs"]))
    judged = classifier.predict_attributes(copies)
    return float(np.mean(np.all(judged == np.round(targets), axis=1)))


def _bits(row):
    return "".join(str(int(bit)) for bit in row)


def _save_attribute_mixes(path, restored):
    """Pairs with opposite attributes, decoded for every target."""
    examples = metrics_lib.first_examples(restored.config.data, "test", 2000)
    attributes = examples["attributes"]
    firsts, seconds = [], []
    for index, row in enumerate(attributes):
        opposite = np.flatnonzero(np.all(attributes == 1 - row, axis=1))
        opposite = opposite[opposite > index]
        if len(opposite) and index not in seconds:
            firsts.append(index)
            seconds.append(int(opposite[len(firsts) % len(opposite)]))
        if len(firsts) == FIGURE_PAIRS:
            break
    if not firsts:
        raise UsageError("no held-out pair with opposite attributes to draw")
    inputs = examples["inputs"]
    targets = np.array(list(itertools.product(
        [0, 1], repeat=attributes.shape[1])), np.float32)
    rows = []
    for first, second in zip(firsts, seconds):
        count = len(targets)
        decoded = inference.class_mixes(
            restored.model, np.repeat(inputs[first:first + 1], count, axis=0),
            np.repeat(inputs[second:second + 1], count, axis=0), targets)
        rows.append(np.concatenate([inputs[[first, second]], decoded]))
    names = restored.info.attribute_names
    figures.save_image_grid(
        path, np.stack(rows), ["x1", "x2"] + [_bits(t) for t in targets],
        [f"{_bits(attributes[f])} | {_bits(attributes[s])}"
         for f, s in zip(firsts, seconds)],
        title=f"decoded Mix_sup(x1, x2, y~) for each y~ ({', '.join(names)})")


def main(argv):
    cli.reject_extra_arguments(argv)
    logging.set_verbosity(logging.WARNING)
    try:
        run(Options(
            output_dir=common.output_dir_or_default("class_mixer"),
            quick=FLAGS.quick, classifier_dir=FLAGS.classifier_dir,
            overrides=common.overrides_from_command_line(),
        ))
    except UsageError as error:
        cli.fail(error)


if __name__ == "__main__":
    cli.run_main(main)
