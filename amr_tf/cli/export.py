"""Export a trained run for TF Serving.

    python -m amr_tf.export --model_dir=runs/shapes --export_base=export/models/amr

writes `<export_base>/<version>/` (version: the training step unless
`--export_version` is given) from the run's latest checkpoint. Existing
versions are never overwritten; a failed export leaves no version folder.
"""

from absl import flags
from absl import logging

from amr_tf import exporter as export_lib
from amr_tf.cli import training_flags as train_flags
from amr_tf.cli.app import fail
from amr_tf.cli.app import reject_extra_arguments
from amr_tf.cli.app import run_main
from amr_tf.core.errors import UsageError
from amr_tf.core.errors import WriteError
from amr_tf.tfserving.metadata import read_metadata
from amr_tf.training import restore

flags.DEFINE_integer("export_version", None,
                     "Version folder to write; default the training step.")


def main(argv):
    reject_extra_arguments(argv)
    logging.set_verbosity(logging.WARNING)
    values = train_flags.FLAGS
    if not values["model_dir"].present:
        fail("--model_dir is required: the folder of a training run")
    try:
        restored = restore.load_trained(values.model_dir)
        export_base = values.export_base or restored.config.export_path
        path = export_lib.export_saved_model(
            restored.model, restored.config, restored.info, export_base,
            values.export_version, restored.flag_text)
    except UsageError as error:
        fail(error)
    except WriteError as error:
        fail(error, exit_code=1)
    print(f"Exported {path}")
    print(f"  signatures: {', '.join(read_metadata(path)['signatures'])}")
    print(f"  serve:      python -m amr_tf.serving.server --model_base_path={export_base}")


def run():
    """The `amr-export` console script."""
    run_main(main)
