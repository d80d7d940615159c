"""Evaluate a trained run: `python -m amr_tf.evaluate --model_dir=DIR`.

Rebuilds the run from DIR/flags.txt, restores its latest checkpoint, prints
each metric of METHOD.md §6 that applies (or those named by --metrics) and
writes them to DIR/metrics.json (keeping the metrics of the same checkpoint
not measured again) and to TensorBoard (DIR/tensorboard/eval, at
the checkpoint's iteration); progress goes to stderr. Metrics measured
several times (FID over resamples of mixes, t-SNE seeds) are printed as
mean ± std and stored as lists; pool model seeds with
`python -m amr_tf.aggregate`.

The FID feature classifier is trained on the run's dataset the first time
and cached under --classifier_dir.
"""

from absl import flags
from absl import logging

from amr_tf.cli import app
from amr_tf.cli import training_flags
from amr_tf.core.errors import UsageError
from amr_tf.eval import classifier as classifier_lib
from amr_tf.eval import metrics as metrics_lib
from amr_tf.eval import mixes
from amr_tf.eval import summary
from amr_tf.training import restore

flags.DEFINE_list("metrics", ["auto"],
                  "Metrics to measure, from "
                  f"{', '.join(metrics_lib.METRICS)}; auto: all that apply.")
flags.DEFINE_integer("num_eval_examples", 2000,
                     "Held-out examples per metric.")
flags.DEFINE_integer("resamples", 5, "Sets of random mixes for FID(data, mix).")
flags.DEFINE_integer("eval_seed", 0, "Seed of the random mixes.")
flags.DEFINE_list("fid_mixers", [],
                  "Also measure FID(data, mix) with these mixers (e.g. "
                  "mixup,bernoulli), besides the run's own.")
flags.DEFINE_string("classifier_dir", "runs/classifiers",
                    "Cache of FID feature classifiers.")
flags.DEFINE_integer("classifier_steps", 2000,
                     "Training steps of a new feature classifier.")
flags.DEFINE_integer("tsne_seeds", 5, "t-SNE runs for latent_structure.")
flags.DEFINE_integer("tsne_examples", 1000,
                     "Held-out latents embedded by t-SNE.")
flags.DEFINE_bool("quick", False,
                  "Fewer examples, resamples and t-SNE runs (QUICK_FLAGS), "
                  "for iterating; flags given explicitly still win.")

FLAGS = flags.FLAGS

# --quick: the sizes that dominate the run time, scaled down.
QUICK_FLAGS = {"num_eval_examples": 500, "resamples": 2, "tsne_seeds": 2,
               "tsne_examples": 300}


def _flag(name):
    """A flag's value, or its --quick value where --quick and not given."""
    if FLAGS.quick and name in QUICK_FLAGS and not FLAGS[name].present:
        return QUICK_FLAGS[name]
    return FLAGS[name].value


def settings_from_flags():
    """An `EvalSettings` from this CLI's flags."""
    return metrics_lib.EvalSettings(
        num_examples=_flag("num_eval_examples"),
        resamples=_flag("resamples"),
        seed=FLAGS.eval_seed,
        fid_mixers=tuple(FLAGS.fid_mixers),
        classifier_dir=FLAGS.classifier_dir,
        classifier=classifier_lib.ClassifierSettings(steps=FLAGS.classifier_steps),
        tsne_seeds=_flag("tsne_seeds"),
        tsne_examples=_flag("tsne_examples"),
        progress=True,
    )


def main(argv):
    app.reject_extra_arguments(argv)
    logging.set_verbosity(logging.WARNING)
    given = app.training_flags_given(training_flags.__name__)
    if "model_dir" not in given:
        app.fail("--model_dir is required: the directory of a training run")
    for name, text in given.items():
        if name != "model_dir":
            app.fail(f"{text} is a training flag: evaluate takes the run's "
                     f"flags from {FLAGS.model_dir}/flags.txt")
    try:
        restored = restore.load_trained(FLAGS.model_dir)
        names = (metrics_lib.applicable(restored) if FLAGS.metrics == ["auto"]
                 else FLAGS.metrics)
        results = metrics_lib.evaluate(restored, names, settings_from_flags())
    except UsageError as error:
        app.fail(error)
    path = summary.write_metrics(FLAGS.model_dir, results)
    config = restored.config
    print(f"{config.objective} ({config.mixer}) on {restored.info.name}, "
          f"{results['iterations']} iterations:")
    for line in metric_lines(results):
        print(f"  {line}")
    print(f"Metrics written to {path}")


def metric_lines(results):
    """One line per metric, with its interval and baselines (if any) beside
    it: `name: value [low, high] (copy_x1 v, ..., ceiling v)`."""
    companions = {f"{name}_{suffix}" for name in results
                  for suffix in (*mixes.INTERVAL, *mixes.BASELINES)}
    lines = []
    for name, value in results.items():
        if name == "iterations" or name in companions:
            continue
        line = f"{name}: {summary.format_value(value)}"
        if f"{name}_low" in results:
            low, high = (summary.format_value(results[f"{name}_{end}"], 3)
                         for end in mixes.INTERVAL)
            line += f" [{low}, {high}]"
        baselines = [f"{baseline} {summary.format_value(results[key], 3)}"
                     for baseline in mixes.BASELINES
                     if (key := f"{name}_{baseline}") in results]
        if baselines:
            line += f" ({', '.join(baselines)})"
        lines.append(line)
    return lines


def run():
    app.run_main(main)
