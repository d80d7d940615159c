"""Every metric of SPEC §6 for one trained model, by name.

`evaluate(restored, names, settings)` returns a dict of JSON-ready values:
floats, or lists of floats for metrics measured several times (FID over
resamples of mixes, inter-cluster distance over t-SNE seeds), so that runs
of several model seeds can be pooled later (`amr_tf.aggregate`).
"""

import dataclasses

import numpy as np

from amr_tf import data as data_lib
from amr_tf import inference
from amr_tf import mixers as mixer_lib
from amr_tf.eval import acai_metrics
from amr_tf.eval import classifier as classifier_lib
from amr_tf.eval import fid
from amr_tf.eval import latent_structure
from amr_tf.eval import mixes
from amr_tf.errors import UsageError

METRICS = ("fid", "linear_probe", "clustering", "latent_structure", "lines",
           "spiral", "mix_attributes", "consistency")


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
    if getattr(model, "class_mixer", None) is not None:
        names.add("mix_attributes")
    return [name for name in METRICS if name in names]


def evaluate(restored, names, settings=EvalSettings()):
    """Measures the named metrics of a restored run.

    Args:
        restored: `amr_tf.restore.Restored`.
        names: metric names from `METRICS`.
        settings: an `EvalSettings`.

    Returns:
        Dict of metric -> float or list of floats.

    Raises:
        UsageError: for an unknown metric or one that does not apply.
    """
    usable = applicable(restored)
    for name in names:
        if name not in METRICS:
            raise UsageError(f"unknown metric {name!r}; choose from "
                             f"{', '.join(METRICS)}")
        if name not in usable:
            raise UsageError(
                f"metric {name} does not apply to this run "
                f"({restored.config.objective} on {restored.info.name}); it "
                f"takes {', '.join(usable)}")
    results = {"iterations": restored.model.completed_iterations()}
    for name in names:
        results.update(_MEASURES[name](restored, settings))
    return results


def first_examples(data_config, split, count):
    """Up to `count` examples of a split, in order, as NumPy arrays."""
    batch = next(iter(data_lib.load(data_config, split).batch(count)))
    return {key: np.asarray(value) for key, value in batch.items()}


def _held_out(restored, settings):
    return first_examples(restored.config.data, "test", settings.num_examples)


def _fid(restored, settings):
    config, model = restored.config, restored.model
    classifier = classifier_lib.load_or_train(
        config.data, restored.info, settings.classifier_dir, settings.classifier)
    examples = _held_out(restored, settings)
    inputs = examples["inputs"]
    real = classifier.features(inputs)
    reconstructions = inference.decode(model, inference.encode(model, inputs))
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
            fid.feature_fid(real, classifier.features(inference.random_mixes(
                model, inputs, settings.seed + resample, mixer=mixer)))
            for resample in range(settings.resamples)
        ]
    return results


def _train_and_test_latents(restored, settings):
    model = restored.model
    train = first_examples(restored.config.data, "train", settings.num_examples)
    test = _held_out(restored, settings)
    return (inference.encode(model, train["inputs"]), train["label"],
            inference.encode(model, test["inputs"]), test["label"])


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
    latents = inference.encode(restored.model, inputs)
    return {"inter_cluster_distance": latent_structure.inter_cluster_distances(
        latents, restored.info.num_classes,
        range(settings.seed, settings.seed + settings.tsne_seeds))}


def _lines(restored, settings):
    inputs = first_examples(restored.config.data, "test",
                            2 * settings.line_pairs)["inputs"]
    pairs = len(inputs) // 2
    interpolations = inference.interpolate(
        restored.model, inputs[:pairs], inputs[pairs:2 * pairs],
        np.linspace(1.0, 0.0, settings.line_steps))
    distance, smoothness = acai_metrics.line_metrics(interpolations)
    return {"line_mean_distance": distance, "line_smoothness": smoothness}


def _spiral(restored, settings):
    inputs = _held_out(restored, settings)["inputs"]
    points = inference.random_mixes(restored.model, inputs, settings.seed)
    epsilon = settings.spiral_epsilon
    return {
        "on_manifold_fraction": mixes.on_manifold_fraction(points, epsilon),
        "data_on_manifold_fraction": mixes.on_manifold_fraction(inputs, epsilon),
    }


def _mix_attributes(restored, settings):
    classifier = classifier_lib.load_or_train(
        restored.config.data, restored.info, settings.classifier_dir,
        settings.classifier)
    examples = _held_out(restored, settings)
    model, inputs = restored.model, examples["inputs"]
    attributes = examples["attributes"]
    judged_copies = classifier.predict_attributes(
        inference.decode(model, inference.encode(model, inputs)))
    return {
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
    return {"mixing_consistency": mixes.mixing_consistency(
        restored.model, inputs, settings.seed, restored.config.recon_loss)}


_MEASURES = {
    "fid": _fid,
    "linear_probe": _linear_probe,
    "clustering": _clustering,
    "latent_structure": _latent_structure,
    "lines": _lines,
    "spiral": _spiral,
    "mix_attributes": _mix_attributes,
    "consistency": _consistency,
}
