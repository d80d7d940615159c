"""Export a trained run for TF Serving.

    python -m amr_tf.export --model_dir=runs/shapes --export_base=export/models/amr

writes `<export_base>/<version>/` (version: the training step unless
`--export_version` is given) from the run's latest checkpoint. Existing
versions are never overwritten; a failed export leaves no version folder.
Concurrent requests to a signature batch in the export's graph, with the
settings of `--batching_parameters_file` (export/README.md).
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
from amr_tf.exporter import saved_model
from amr_tf.tfserving import batching_parameters
from amr_tf.tfserving.metadata import read_metadata
from amr_tf.training import restore

flags.DEFINE_integer("export_version", None,
                     "Version folder to write; default the training step.")
flags.DEFINE_string("batching_parameters_file", None,
                    "TF Serving BatchingParameters text proto for the "
                    "export's in-graph batcher; default: "
                    "export/batching_parameters.txt as packaged.")
flags.DEFINE_boolean("in_graph_batching", True,
                     "Batch concurrent requests in the export's graph; "
                     "--noin_graph_batching runs each request alone.")


def main(argv):
    reject_extra_arguments(argv)
    logging.set_verbosity(logging.WARNING)
    values = train_flags.FLAGS
    if not values["model_dir"].present:
        fail("--model_dir is required: the folder of a training run")
    if values.batching_parameters_file and not values.in_graph_batching:
        fail("--batching_parameters_file needs --in_graph_batching")
    try:
        batching = batching_parameters.chosen(
            values.in_graph_batching, values.batching_parameters_file,
            saved_model.DEFAULT_BATCHING)
    except ValueError as error:
        fail(error)
    try:
        restored = restore.load_trained(values.model_dir)
        export_base = values.export_base or restored.config.export_path
        path = export_lib.export_saved_model(
            restored.model, restored.config, restored.info, export_base,
            values.export_version, restored.flag_text, batching)
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
