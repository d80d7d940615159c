"""The supervised class mixer on aligned shapes (paper §3.1, Fig. 6 and 11).

    amr-experiments class_mixer --quick

Trains AMR with a class mixer (eq. 6) beside Bernoulli mixup on centred
`shapes` sprites, whose three binary attributes (round, warm, large) are
known, for --model_seeds seeds (default 3) of each variant:

- `parent_aware`: the parent-aware mixer (an extension beyond the paper),
  told by a selector s which parent gives each attribute; selectors
  s ~ Bernoulli(1/2)^k in training.
- `paper`: the paper's mixer, which sees only y~ = alpha y1 + (1 - alpha) y2.

Each run is evaluated with the `mix_attributes` metric (`amr_tf.eval.mixes`):
cross-combination accuracy on pairs with all attributes opposite,
per-attribute accuracy where the parents differ (with 95 % intervals) and
swap consistency, each beside copy-x1, copy-x2, chance and the ceiling (the
judge on reconstructions). The judge is the feature classifier trained on
blurred and noised images (`metrics.judge`); its accuracy on held-out real
images blurred by sigma = 1 px, its ceiling per attribute and sprite size,
and D's own attribute accuracy on held-out real images are reported beside.
Runs resume where they stopped and finished runs are only evaluated again.

Figures under --output_dir, per variant (its seed 0):
attribute_mixes_<variant>.png (opposite pairs decoded for every selector:
Fig. 6 style) and class_mixer_masks_<variant>.png (the mask p per selector:
Fig. 11 style); for every run, class_mixer_curves.png (D's attribute
accuracy on real images and on class mixes, the class term and the
reconstruction loss over training).
"""

import dataclasses
import itertools
import os

import numpy as np

from amr_tf.core import interpolation
from amr_tf.core import mixers as mixer_lib
from amr_tf.core.errors import UsageError
from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import mixes
from amr_tf.eval import summary
from amr_tf.experiments import common
from amr_tf.figures import charts

CONFIG = "shapes_class_mixer"
FIGURE_PAIRS = 4
MODEL_SEEDS = 3
# Variant -> (table label, training flags on top of CONFIG).
VARIANTS = {
    "parent_aware": ("parent-aware mixer (extension)",
                     ("--class_mixer_input=parent_aware", "--label_mix=bernoulli")),
    "paper": ("paper's mixer (y~ only)",
              ("--class_mixer_input=paper", "--label_mix=convex")),
}
# --quick: 16 px images and fewer iterations than the config's.
QUICK_FLAGS = ("--image_size=16", "--steps=2000", "--log_every=100")
# The logged curves drawn in class_mixer_curves.png.
CURVE_TAGS = ("attribute_accuracy_real", "attribute_accuracy_class_mix",
              "g_class_consistency", "g_reconstruction")
# The attribute whose value splits the ceiling by sprite size.
SIZE_ATTRIBUTE = "large"


@dataclasses.dataclass(frozen=True)
class Options:
    output_dir: str
    quick: bool = False
    seeds: int = MODEL_SEEDS
    variants: tuple[str, ...] = tuple(VARIANTS)
    classifier_dir: str | None = None
    overrides: tuple[str, ...] = ()
    eval_settings: metrics_lib.EvalSettings | None = None


def run(options):
    """Trains, evaluates and draws every variant; returns metrics by variant
    (each a dict of name -> list over seeds)."""
    extra = QUICK_FLAGS if options.quick else ()
    runs = [common.Run(f"{name}_seed{seed}", name,
                       (common.config_flag(CONFIG), *extra, *VARIANTS[name][1]),
                       seed)
            for seed in range(options.seeds) for name in options.variants]
    trained = common.train_runs(runs, options.output_dir, options.overrides)
    settings = options.eval_settings or metrics_lib.EvalSettings(
        classifier_dir=options.classifier_dir
        or os.path.join(options.output_dir, "classifiers"))
    results = {}
    for name, items in common.by_method(trained, lambda t: t.run.method).items():
        per_seed = []
        for item in items:
            metrics = metrics_lib.evaluate(item.restored, ["mix_attributes"],
                                           settings)
            metrics.update(attribute_readers(item.restored, settings))
            metrics["train_seconds"] = item.seconds
            summary.write_metrics(item.restored.config.model_dir, metrics)
            per_seed.append(metrics)
        results[name] = summary.pool(per_seed)
        restored = items[0].restored
        save_attribute_mixes(
            os.path.join(options.output_dir, f"attribute_mixes_{name}.png"),
            restored, title=VARIANTS[name][0])
        save_masks(
            os.path.join(options.output_dir, f"class_mixer_masks_{name}.png"),
            restored, title=VARIANTS[name][0])
    common.save_training_curves(
        os.path.join(options.output_dir, "class_mixer_curves.png"), trained,
        CURVE_TAGS)
    names = trained[0].restored.info.attribute_names
    common.write_outputs(options.output_dir, results,
                         results_table(results, names, settings))
    return results


def attribute_readers(restored, settings):
    """How each attribute is read, on 2,000 held-out examples: D's attribute
    head on real images (`d_real_accuracy_<name>`) and the judge on
    reconstructions by sprite size (`reconstruction_accuracy_<name>_<size>`,
    size "small" or "large")."""
    examples = metrics_lib.first_examples(restored.config.data, "test",
                                          settings.num_examples)
    inputs, attributes = examples["inputs"], examples["attributes"]
    model, names = restored.model, restored.info.attribute_names
    logits = np.concatenate([
        np.asarray(model.discriminator(inputs[start:start + 500],
                                       training=False)["attribute_logits"])
        for start in range(0, len(inputs), 500)])
    results = {f"d_real_accuracy_{name}": float(value) for name, value in zip(
        names, np.mean((logits > 0) == (attributes > 0.5), axis=0))}
    if SIZE_ATTRIBUTE not in names:
        return results
    judged = metrics_lib.judge(restored, settings).predict_attributes(
        interpolation.decode(model, interpolation.encode(model, inputs)))
    is_large = attributes[:, names.index(SIZE_ATTRIBUTE)] > 0.5
    for size, rows in (("small", ~is_large), ("large", is_large)):
        right = np.mean(judged[rows] == attributes[rows], axis=0)
        results.update({f"reconstruction_accuracy_{name}_{size}": float(value)
                        for name, value in zip(names, right)})
    return results


def results_table(results, names, settings):
    """Markdown: one row per quantity and variant, beside its baselines."""
    quantities = [("cross-combination accuracy", "cross_combination_accuracy"),
                  ("swap consistency", "swap_consistency")]
    quantities += [(f"differing-attribute accuracy: {name}",
                    f"differing_accuracy_{name}") for name in names]
    rows = []
    for label, key in quantities:
        for variant, metrics in results.items():
            value = summary.format_value(metrics[key], 3)
            if f"{key}_low" in metrics:
                low, high = (np.mean(metrics[f"{key}_{end}"])
                             for end in ("low", "high"))
                value += f" [{low:.3f}, {high:.3f}]"
            rows.append([label, VARIANTS[variant][0], value] + [
                summary.format_value(metrics[f"{key}_{baseline}"], 3)
                for baseline in mixes.BASELINES])
    per_attribute = [
        ("judge on real images blurred by sigma = "
         f"{metrics_lib.JUDGE_CHECK_SIGMA:g} px", "judge_blurred_accuracy_{}"),
        ("D's attribute head on real images", "d_real_accuracy_{}"),
        ("judge on reconstructions (ceiling)", "reconstruction_accuracy_{}"),
        ("ceiling, small sprites", "reconstruction_accuracy_{}_small"),
        ("ceiling, large sprites", "reconstruction_accuracy_{}_large")]
    for variant, metrics in results.items():
        for label, key in per_attribute:
            if key.format(names[0]) in metrics:
                rows.append([f"{label}: " + ", ".join(names),
                             VARIANTS[variant][0],
                             " / ".join(summary.format_value(
                                 metrics[key.format(name)], 3)
                                 for name in names), "", "", "", ""])
        rows.append(["iterations / train s", VARIANTS[variant][0],
                     f"{summary.format_value(metrics['iterations'])} / "
                     f"{summary.format_value(metrics['train_seconds'], 3)}",
                     "", "", "", ""])
    table = common.markdown_table(
        ["quantity", "mixer", "value (mean ± std over seeds)", "copy x1",
         "copy x2", "chance", "ceiling"], rows)
    return table + (
        f"\n\n{settings.num_examples} held-out examples. Cross-combination: "
        "every pair with all attributes opposite, each of the 2^k - 2 "
        "selectors that differ from both parents; a mix counts when the "
        "classifier finds all k requested attributes. Differing-attribute: "
        "random pairs and selectors s ~ Bernoulli(1/2)^k, counted where the "
        "parents differ; [low, high] is the mean over seeds of the Wilson 95 % "
        "interval of each run.")


def _bits(row):
    return "".join(str(int(bit)) for bit in row)


def all_selectors(num_attributes):
    """Every selector of {0, 1}^k, (2^k, k) float32, in binary order."""
    return np.array(list(itertools.product([0, 1], repeat=num_attributes)),
                    np.float32)


def save_attribute_mixes(path, restored, title):
    """Pairs with all attributes opposite, decoded for every selector."""
    examples = metrics_lib.first_examples(restored.config.data, "test", 2000)
    attributes, inputs = examples["attributes"], examples["inputs"]
    firsts, partners = mixes.opposite_partners(attributes, seed=0)
    if not len(firsts):
        raise UsageError("no held-out pair with opposite attributes to draw")
    selectors = all_selectors(attributes.shape[1])
    count = len(selectors)
    rows = []
    for first, second in zip(firsts[:FIGURE_PAIRS], partners[:FIGURE_PAIRS]):
        targets = np.asarray(mixer_lib.mix_targets(
            selectors, attributes[first], attributes[second]))
        decoded = interpolation.class_mixes(
            restored.model, np.repeat(inputs[first:first + 1], count, axis=0),
            np.repeat(inputs[second:second + 1], count, axis=0), selectors,
            targets)
        rows.append(np.concatenate([inputs[[first, second]], decoded]))
    names = restored.info.attribute_names
    charts.save_image_grid(
        path, np.stack(rows), ["x1", "x2"] + [f"s={_bits(s)}" for s in selectors],
        [f"{_bits(attributes[f])} | {_bits(attributes[s])}"
         for f, s in zip(firsts[:FIGURE_PAIRS], partners[:FIGURE_PAIRS])],
        title=f"{title}: Mix(x1, x2, s) for each s\n"
              f"({', '.join(names)}; s_j = 1 takes attribute j from x1)")


def save_masks(path, restored, title):
    """The mask p per selector, for x1 with every attribute 1 and x2 with
    none (so y~ = s for the paper's mixer)."""
    selectors = all_selectors(restored.info.num_attributes)
    probabilities = restored.model.class_mixer.probabilities(selectors, selectors)
    charts.save_mask_heatmap(
        path, np.asarray(probabilities), [f"s={_bits(s)}" for s in selectors],
        title=f"{title}: p per selector "
              f"({', '.join(restored.info.attribute_names)})")
