"""The export step that ends a training run."""

from amr_tf.exporter.saved_model import export_saved_model
from amr_tf.tfserving.version_folders import list_versions
from amr_tf.tfserving.version_folders import version_path


def export_trained(model, config, info, flag_text=""):
    """Exports `model` as version `<iterations>` under `config.export_path`.

    A version that exists already is kept as it is (versions are immutable):
    a finished run trained again exports nothing new.

    Returns:
        The path of the version folder.
    """
    iterations = model.completed_iterations()
    path = version_path(config.export_path, iterations)
    if iterations not in list_versions(config.export_path):
        export_saved_model(model, config, info, config.export_path,
                           iterations, flag_text)
    return path
