"""Every metric of METHOD.md §6 for one trained model, by name.

`evaluate(restored, names, settings)` returns a dict of JSON-ready values:
floats, or lists of floats for metrics measured several times (FID over
resamples of mixes, inter-cluster distance over t-SNE seeds), so that runs
of several model seeds can be pooled later (`amr_tf.aggregate`).
"""

import dataclasses
import sys
import time

import numpy as np
import tensorflow as tf

from amr_tf import data as data_lib
from amr_tf.core import interpolation
from amr_tf.core import mixers as mixer_lib
from amr_tf.core.errors import UsageError
from amr_tf.core.errors import check_choice
from amr_tf.data import pairs as data_pairs
from amr_tf.eval import acai_metrics
from amr_tf.eval import classifier as classifier_lib
from amr_tf.eval import fid
from amr_tf.eval import latent_structure
from amr_tf.eval import mixes
from amr_tf.eval import progress
from amr_tf.eval import spiral_mixes
from amr_tf.eval import sprites

METRICS = ("fid", "linear_probe", "clustering", "latent_structure", "lines",
           "spiral", "sprites", "mix_attributes", "consistency")


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """How metrics are measured.

    Attributes:
        num_examples: held-out examples (and training examples for the probe
            and clustering) per metric.
        resamples: sets of random mixes for FID(data, mix).
        seed: seed of the random mixes (resample r uses seed + r).
        fid_mixers: unsupervised mixers that FID(data, mix) is also measured
            with, besides the model's own (e.g. ("mixup", "bernoulli") to
            set ARAE beside AMR in both of the paper's tables).
        classifier_dir: cache of feature classifiers.
        classifier: `ClassifierSettings` of the feature classifier.
        tsne_seeds: t-SNE runs for the latent-structure study.
        tsne_examples: latents embedded by t-SNE.
        line_pairs, line_steps: lines benchmark interpolations (ACAI: 256, 16).
        spiral_epsilon: distance to the spiral that counts as on it.
        progress: print a line per metric, resample, t-SNE seed and
            classifier epoch on stderr.
    """

    num_examples: int = 2000
    resamples: int = 5
    seed: int = 0
    fid_mixers: tuple[str, ...] = ()
    classifier_dir: str = "runs/classifiers"
    classifier: classifier_lib.ClassifierSettings = (
        classifier_lib.ClassifierSettings())
    tsne_seeds: int = 5
    tsne_examples: int = 1000
    line_pairs: int = 256
    line_steps: int = 16
    spiral_epsilon: float = 0.05
    progress: bool = False


def applicable(restored):
    """The metric names that apply to a restored run, in `METRICS` order."""
    info, model = restored.info, restored.model
    names = {"consistency"}
    if info.is_image and (info.num_attributes or info.num_classes):
        names.add("fid")
    if info.num_classes:
        names.update({"linear_probe", "clustering", "latent_structure"})
    if info.name == "lines":
        names.add("lines")
    if info.name == "spiral":
        names.add("spiral")
    if info.name == "shapes":
        names.add("sprites")
    if getattr(model, "class_mixer", None) is not None:
        names.add("mix_attributes")
    return [name for name in METRICS if name in names]


def evaluate(restored, names, settings=EvalSettings()):
    """Measures the named metrics of a restored run.

    Args:
        restored: `amr_tf.training.restore.Restored`.
        names: metric names from `METRICS`.
        settings: an `EvalSettings`.

    Returns:
        Dict of metric -> float or list of floats.

    Raises:
        UsageError: for an unknown metric or one that does not apply.
    """
    usable = applicable(restored)
    for name in names:
        check_choice("metric", name, tuple(METRICS))
        if name not in usable:
            raise UsageError(
                f"metric {name} does not apply to this run "
                f"({restored.config.objective} on {restored.info.name}); it "
                f"takes {', '.join(usable)}")
    results = {"iterations": restored.model.completed_iterations()}
    for index, name in enumerate(names, start=1):
        start = time.perf_counter()
        if settings.progress:
            print(f"[{index}/{len(names)}] {name}", file=sys.stderr, flush=True)
        results.update(_MEASURES[name](restored, settings))
        if settings.progress:
            print(f"[{index}/{len(names)}] {name}: "
                  f"{time.perf_counter() - start:.1f} s", file=sys.stderr,
                  flush=True)
    return results


def first_examples(data_config, split, count):
    """Up to `count` examples of a split, in order, as NumPy arrays."""
    batch = next(iter(data_lib.load(data_config, split).batch(count)))
    return {key: np.asarray(value) for key, value in batch.items()}


# `_random_examples` draws from the first SHUFFLE_POOL × count examples.
SHUFFLE_POOL = 20


def _random_examples(data_config, split, count, seed):
    """`count` inputs of a split drawn at random (seeded) from its first
    `SHUFFLE_POOL * count`, float32 [count, ...]."""
    dataset = data_lib.load(data_config, split).take(SHUFFLE_POOL * count)
    dataset = dataset.shuffle(SHUFFLE_POOL * count, seed=seed)
    return np.asarray(next(iter(dataset.batch(count)))["inputs"])


def _held_out(restored, settings):
    return first_examples(restored.config.data, "test", settings.num_examples)


def _fid(restored, settings):
    config, model = restored.config, restored.model
    classifier = classifier_lib.load_or_train(
        config.data, restored.info, settings.classifier_dir, settings.classifier,
        progress=settings.progress)
    examples = _held_out(restored, settings)
    inputs = examples["inputs"]
    real = classifier.features(inputs)
    reconstructions = interpolation.decode(model, interpolation.encode(model, inputs))
    results = {
        "classifier_test_accuracy": classifier.test_accuracy,
        "fid_reconstruction": fid.feature_fid(
            real, classifier.features(reconstructions)),
    }
    mixers = {"mix": None}  # None: the model's own interpolation mixer.
    for name in settings.fid_mixers:
        mixers[f"mix_{name}"] = mixer_lib.build_mixer(name, seed=config.seed)
    for key, mixer in mixers.items():
        results[f"fid_{key}"] = [
            fid.feature_fid(real, classifier.features(interpolation.random_mixes(
                model, inputs, settings.seed + resample, mixer=mixer)))
            for resample in progress.track(range(settings.resamples),
                                           f"fid_{key} resamples",
                                           settings.progress)
        ]
    # Model-free references: mixup of the images themselves (a floor), and
    # real against real (a ceiling): as many training images as there are
    # held-out ones, drawn at random (so the ceiling does not depend on how
    # a split is ordered), so both sides have the sample size of every
    # other FID here (FID's bias grows as the sample shrinks).
    results["fid_pixel_mix"] = [
        fid.feature_fid(real, classifier.features(np.asarray(
            mixer_lib.Mixup().mix_batch(
                tf.constant(inputs), tf.constant([settings.seed + resample, 0],
                                                 tf.int64)).latents)))
        for resample in range(settings.resamples)]
    results["fid_real_train"] = fid.feature_fid(real, classifier.features(
        _random_examples(config.data, "train", len(inputs), settings.seed)))
    results["fid_examples"] = len(inputs)
    return results


def _train_and_test_latents(restored, settings):
    model = restored.model
    train = first_examples(restored.config.data, "train", settings.num_examples)
    test = _held_out(restored, settings)
    return (interpolation.encode(model, train["inputs"]), train["label"],
            interpolation.encode(model, test["inputs"]), test["label"])


def _linear_probe(restored, settings):
    return {"linear_probe_accuracy": acai_metrics.linear_probe_accuracy(
        *_train_and_test_latents(restored, settings))}


def _clustering(restored, settings):
    train_latents, _, test_latents, test_labels = _train_and_test_latents(
        restored, settings)
    return {"clustering_accuracy": acai_metrics.clustering_accuracy(
        train_latents, test_latents, test_labels, restored.info.num_classes,
        seed=settings.seed)}


def _latent_structure(restored, settings):
    inputs = first_examples(restored.config.data, "test",
                            settings.tsne_examples)["inputs"]
    latents = interpolation.encode(restored.model, inputs)
    seeds = progress.track(
        range(settings.seed, settings.seed + settings.tsne_seeds),
        "t-SNE seeds", settings.progress)
    return {"inter_cluster_distance": latent_structure.inter_cluster_distances(
        latents, restored.info.num_classes, seeds)}


def _lines(restored, settings):
    inputs = first_examples(restored.config.data, "test",
                            2 * settings.line_pairs)["inputs"]
    pairs = len(inputs) // 2
    interpolations = interpolation.interpolate(
        restored.model, inputs[:pairs], inputs[pairs:2 * pairs],
        np.linspace(1.0, 0.0, settings.line_steps))
    distance, smoothness = acai_metrics.line_metrics(interpolations)
    return {"line_mean_distance": distance, "line_smoothness": smoothness}


def _spiral(restored, settings):
    inputs = _held_out(restored, settings)["inputs"]
    return spiral_mixes.spiral_report(restored.model, inputs,
                                      settings.spiral_epsilon, settings.seed)


def _sprites(restored, settings):
    """One-sprite share of decoded midpoints (alpha = 0.5, the model's own
    mixer) of random held-out pairs, beside pixel midpoints (floor),
    reconstructions and the data (ceiling)."""
    examples = _held_out(restored, settings)
    inputs, model = examples["inputs"], restored.model
    first, second = data_pairs.pick_pairs(examples["label"], len(inputs),
                                          settings.seed)
    midpoints = interpolation.interpolate(model, inputs[first], inputs[second],
                                      [0.5])[:, 0]
    reconstructions = interpolation.decode(model, interpolation.encode(model, inputs))
    return {
        "one_sprite_fraction": sprites.one_sprite_fraction(midpoints),
        "pixel_one_sprite_fraction": sprites.one_sprite_fraction(
            0.5 * (inputs[first] + inputs[second])),
        "reconstruction_one_sprite_fraction":
            sprites.one_sprite_fraction(reconstructions),
        "data_one_sprite_fraction": sprites.one_sprite_fraction(inputs),
    }


# Blur (px) of the real images the judge of mixes is checked on.
JUDGE_CHECK_SIGMA = 1.0


def judge(restored, settings):
    """The judge of decoded mixes: the feature classifier trained on blurred
    and noised images (`ClassifierSettings.augment`)."""
    return classifier_lib.load_or_train(
        restored.config.data, restored.info, settings.classifier_dir,
        dataclasses.replace(settings.classifier, augment=True),
        progress=settings.progress)


def _mix_attributes(restored, settings):
    classifier = judge(restored, settings)
    examples = _held_out(restored, settings)
    model, inputs = restored.model, examples["inputs"]
    attributes = examples["attributes"]
    judged_copies = classifier.predict_attributes(
        interpolation.decode(model, interpolation.encode(model, inputs)))
    names = restored.info.attribute_names
    on_blurred = classifier_lib.blurred_accuracies(
        classifier, inputs, attributes, JUDGE_CHECK_SIGMA)
    on_copies = np.mean(judged_copies == attributes, axis=0)
    return {
        **{f"judge_blurred_accuracy_{name}": float(value)
           for name, value in zip(names, on_blurred)},
        **{f"reconstruction_accuracy_{name}": float(value)
           for name, value in zip(names, on_copies)},
        **mixes.cross_combinations(model, classifier, inputs, attributes,
                                   judged_copies, settings.seed),
        **mixes.differing_attributes(model, classifier, inputs, attributes,
                                     judged_copies, restored.info.attribute_names,
                                     settings.seed),
        "reconstruction_attribute_accuracy": float(
            np.mean(judged_copies == attributes)),
        "classifier_test_accuracy": classifier.test_accuracy,
    }


def _consistency(restored, settings):
    inputs = _held_out(restored, settings)["inputs"]
    args = (restored.model, inputs, settings.seed, restored.config.recon_loss)
    absolute = mixes.mixing_consistency(*args)
    return {"mixing_consistency": absolute,
            "relative_mixing_consistency": absolute / mixes.code_spread(*args)}


_MEASURES = {
    "fid": _fid,
    "linear_probe": _linear_probe,
    "clustering": _clustering,
    "latent_structure": _latent_structure,
    "lines": _lines,
    "spiral": _spiral,
    "sprites": _sprites,
    "mix_attributes": _mix_attributes,
    "consistency": _consistency,
}
