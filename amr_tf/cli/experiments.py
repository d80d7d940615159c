"""The paper's experiments: `amr-experiments NAME [--quick] [flags]`, NAME one
of class_mixer, fid_table, lines, spiral.

Each trains its runs under --output_dir (default runs/experiments/NAME;
re-running resumes or skips finished runs), evaluates them and writes
`results.md`, `results.json` and PNGs there. --quick is a CPU setting;
without it, the paper's settings. Training flags (e.g. --steps=100) override
every run's; --model_dir and --seed are set per run by the experiment.
`amr-experiments NAME --help` lists the flags.
"""

import sys

from absl import flags
from absl import logging

from amr_tf.cli import app
from amr_tf.cli import training_flags
from amr_tf.config import presets
from amr_tf.core.errors import UsageError
from amr_tf.experiments import class_mixer
from amr_tf.experiments import common
from amr_tf.experiments import fid_table
from amr_tf.experiments import lines
from amr_tf.experiments import spiral

FLAGS = flags.FLAGS


def _define_flags():
    """Defines the experiments' flags (at run time: `--quick` and
    `--classifier_dir` are also `amr-evaluate`'s, and one process may import
    both commands)."""
    flags.DEFINE_bool("quick", False,
                      "CPU settings: fewer iterations, smaller images and fewer "
                      "seeds than the paper.")
    flags.DEFINE_string("output_dir", None,
                        "Runs, tables and figures go here; default "
                        "runs/experiments/<experiment>.")
    flags.DEFINE_integer("model_seeds", None,
                         "Model seeds per method (spiral, fid_table, lines); "
                         "default: the experiment's.")
    flags.DEFINE_string("classifier_dir", None,
                        "Cache of FID feature classifiers; default "
                        "<output_dir>/classifiers.")
    flags.DEFINE_list("methods", list(common.METHODS),
                      f"Methods to compare (fid_table, lines), from "
                      f"{', '.join(common.METHODS)}.")
    flags.DEFINE_list("betas", ["0", "0.1", "10", "100"],
                      "spiral: consistency weights β of the AMR runs.")
    flags.DEFINE_enum("figure", "7", ["7", "8"],
                      "spiral: 7, every β, the extension and both ACAIs for 100 "
                      "epochs; 8, AMR β=0 for 200 epochs and both ACAIs for 300.")
    flags.DEFINE_float("epsilon", 0.05,
                       "spiral: distance to the noiseless spiral that counts as "
                       "on it (the data's noise std is 0.02).")
    app.define_config_flag(__name__, "fid_table: packaged config to train on; "
                           f"default {fid_table.DEFAULT_CONFIG}.")
    flags.adopt_module_key_flags(training_flags)  # --help lists them.


def _output_dir(name):
    """--output_dir, or runs/experiments/<name>."""
    return FLAGS.output_dir or f"runs/experiments/{name}"


def _overrides():
    """Training flags given on the command line, to apply to every run."""
    given = app.training_flags_given(training_flags.__name__)
    for name in common.RUN_FLAGS:
        if name in given:
            app.fail(f"--{name} is set per run by the experiment; use "
                     "--output_dir and --model_seeds")
    return tuple(given.values())


def _betas(texts):
    try:
        return tuple(float(text) for text in texts)
    except ValueError:
        raise UsageError(f"--betas must be numbers, got {','.join(texts)}"
                         ) from None


def _spiral():
    figure = int(FLAGS.figure)
    if figure == 8 and FLAGS["betas"].present:
        raise UsageError("--betas is for --figure=7; Fig. 8 compares AMR β=0 "
                         "with ACAI")
    spiral.run(spiral.Options(
        output_dir=_output_dir("spiral" if figure == 7 else "spiral_fig8"),
        quick=FLAGS.quick, figure=figure, betas=_betas(FLAGS.betas),
        epsilon=FLAGS.epsilon, seeds=FLAGS.model_seeds or 1,
        overrides=_overrides()))


def _fid_table():
    config = FLAGS.config or fid_table.DEFAULT_CONFIG
    presets.path(config)  # An unknown name fails before any training.
    fid_table.run(fid_table.Options(
        output_dir=_output_dir(f"fid_{config}"), quick=FLAGS.quick,
        config=config, methods=tuple(FLAGS.methods), seeds=FLAGS.model_seeds,
        classifier_dir=FLAGS.classifier_dir, overrides=_overrides()))


def _lines():
    lines.run(lines.Options(
        output_dir=_output_dir("lines"), quick=FLAGS.quick,
        methods=tuple(FLAGS.methods), seeds=FLAGS.model_seeds,
        overrides=_overrides()))


def _class_mixer():
    class_mixer.run(class_mixer.Options(
        output_dir=_output_dir("class_mixer"), quick=FLAGS.quick,
        seeds=FLAGS.model_seeds or class_mixer.MODEL_SEEDS,
        classifier_dir=FLAGS.classifier_dir, overrides=_overrides()))


EXPERIMENTS = {"class_mixer": _class_mixer, "fid_table": _fid_table,
               "lines": _lines, "spiral": _spiral}


def main_for(name):
    """The absl `main` of experiment `name`: a `UsageError` prints its line
    and exits 2; a preempted run prints how to resume and exits 0."""

    def main(argv):
        app.reject_extra_arguments(argv)
        logging.set_verbosity(logging.WARNING)
        try:
            EXPERIMENTS[name]()
        except UsageError as error:
            app.fail(error)
        except common.Preempted as stop:
            print(stop)

    return main


def run():
    """The `amr-experiments` console script."""
    name = sys.argv[1] if len(sys.argv) > 1 else None
    if name in ("-h", "--help"):
        print(f"usage: {sys.argv[0]} NAME [--flag=value ...]; NAME one of "
              f"{', '.join(EXPERIMENTS)}")
        return
    if name not in EXPERIMENTS:
        app.fail(f"name an experiment first: one of {', '.join(EXPERIMENTS)}")
    _define_flags()
    app.run_main(main_for(name), argv=[f"{sys.argv[0]} {name}", *sys.argv[2:]])
