"""Train AMR, ARAE or ACAI: `amr-train --config=NAME` (a packaged config) or
`python -m amr_tf.train --flagfile=configs/NAME.cfg`.

Re-running the same command resumes from the last checkpoint in --model_dir.
Bad flags or data exit with status 2 and a one-line `error: ...` message
before any training starts. SIGTERM saves a checkpoint and exits with 0. A
NaN/Inf loss (with --on_nonfinite=stop) or a checkpoint that cannot be
written exits with 1 and a one-line message; the last checkpoint is kept.
"""

from absl import flags
from absl import logging

from amr_tf.cli import app
from amr_tf.cli import training_flags as train_flags
from amr_tf.config import presets
from amr_tf.core.errors import UsageError
from amr_tf.core.errors import WriteError
from amr_tf.training import health
from amr_tf.training import loop
from amr_tf.training import run_directory
from amr_tf.training import trainer

app.define_config_flag(
    __name__, "A packaged config to start from, like --flagfile (later "
    f"flags win): one of {', '.join(presets.names())}.")
flags.adopt_module_key_flags(train_flags)  # --help lists them.


def main(argv):
    app.reject_extra_arguments(argv)
    logging.set_verbosity(logging.WARNING)  # Keras prints the progress.
    try:
        config = train_flags.config_from_flags()
        result = trainer.train(config)
    except UsageError as error:
        app.fail(error)
    except (loop.NonFiniteLossError, WriteError) as error:
        app.fail(error, exit_code=1)
    if result.preempted:
        print(f"Stopped by SIGTERM after iteration {result.iterations}; "
              f"checkpoint saved in {config.model_dir}/checkpoints. Re-run the "
              "same command to resume.")
        return
    print(f"Trained {result.iterations} iterations. Outputs in {config.model_dir}:")
    print(f"  figure:      {result.figure_path}")
    print(f"  checkpoints: {config.model_dir}/checkpoints")
    print(f"  tensorboard: tensorboard --logdir {config.model_dir}/tensorboard")
    print(f"  flags:       {config.model_dir}/{run_directory.FLAGFILE}")
    if result.export_path:
        print(f"  export:      {result.export_path} (serve with python -m "
              f"amr_tf.serving.server --model_base_path={config.export_path})")
    for message in result.warnings:
        print(f"warning: {message} — see {health.GUIDE}", flush=True)
    if result.stopped_by:
        app.fail(f"stopped after iteration {result.iterations}: "
                 f"{result.stopped_by} (--on_collapse=stop); checkpoint saved, "
                 "nothing exported", exit_code=1)


def parse_flags(argv):
    """`app.parse_flags` with each `--config=NAME` expanded to its flagfile."""
    try:
        argv = presets.expand(argv)
    except UsageError as error:
        app.fail(error)
    return app.parse_flags(argv)


def run():
    app.run_main(main, parse_flags)
