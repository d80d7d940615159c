"""A stand-in for TF Serving: its gRPC and REST APIs over exported models.

For local development and tests only: production uses TF Serving itself
(see export/README.md). This server loads each version the way TF Serving
does (a session-based `SavedModelBundle`, the "serve" tag, signature tensor
names, warm-up replay), so an export it serves is one TF Serving can serve:

    python -m amr_tf.serving.server --model_base_path=export/models/amr \
        --port=8500 --rest_api_port=8501

gRPC: `PredictionService.Predict` and `GetModelMetadata`,
`ModelService.GetModelStatus` and `HandleReloadConfigRequest` (other
methods answer UNIMPLEMENTED), and the standard health service
(`grpc.health.v1.Health`). REST (with `--rest_api_port`):
`GET /v1/models/NAME[/versions/N|/labels/L][/metadata]`,
`POST /v1/models/NAME[/versions/N|/labels/L]:predict`
(`amr_tf.model_server.rest`) and Prometheus metrics at
`/monitoring/prometheus/metrics`. Version labels come from
`--model_config_file` (its `version_labels`).
It serves the newest version under the base path (TF Serving's default
version policy; `--model_config_file` may set another), picks up new
versions and deleted ones, and answers bad requests with TF Serving's
status codes: unknown model or version NOT_FOUND, unknown signature
FAILED_PRECONDITION, and a missing or extra input, wrong dtype, rank or
shape, mismatched or empty batch, a batch over `--max_batch_size`, NaN/Inf
values or an alpha outside [0, 1] INVALID_ARGUMENT naming the input. As in
TF Serving, a gRPC message may be up to 2 GB: `--max_batch_size`, not
gRPC's 4 MB default, limits a request. Exports batch concurrent requests in
their graph; `--enable_batching [--batching_parameters_file=FILE]` adds TF
Serving's session-level batching (`amr_tf.model_server.batching`), to
reproduce what that flag does.
"""

from absl import flags
from absl import logging

from amr_tf.cli.app import fail
from amr_tf.cli.app import reject_extra_arguments
from amr_tf.cli.app import run_main
from amr_tf.model_server.repository import LOAD_RETRY_SECONDS
from amr_tf.model_server.repository import MAX_LOAD_RETRIES
from amr_tf.model_server.repository import ModelSource
from amr_tf.model_server.repository import sources_from_config_file
from amr_tf.model_server.server import ModelServer
from amr_tf.tfserving import batching_parameters
from amr_tf.tfserving.predict import PREDICT_METHOD_NAME


def _define_flags():
    flags.DEFINE_string("model_base_path", None,
                        "Folder of integer version folders (an export base).")
    flags.DEFINE_string("model_name", "amr", "Name clients ask for.")
    flags.DEFINE_string("model_config_file", None,
                        "A TF Serving models.config instead of "
                        "--model_base_path/--model_name.")
    flags.DEFINE_string("host", "127.0.0.1",
                        "Address to bind (loopback by default; 0.0.0.0 for all).")
    flags.DEFINE_integer("port", 8500, "gRPC port; 0 picks a free one.")
    flags.DEFINE_integer("rest_api_port", None,
                         "REST port (TF Serving's is 8501); unset: no REST; "
                         "0 picks a free one.")
    flags.DEFINE_float("file_system_poll_wait_seconds", 1.0,
                       "Seconds between looks for new versions; 0 never.")
    flags.DEFINE_integer("max_batch_size", 1024,
                         "Largest batch a request may carry.")
    flags.DEFINE_float("model_config_file_poll_wait_seconds", 0.0,
                       "Seconds between re-reads of --model_config_file "
                       "(applied when it changed); 0 never.")
    flags.DEFINE_integer("max_num_load_retries", MAX_LOAD_RETRIES,
                         "Loads tried again after a version fails to load.")
    flags.DEFINE_integer("load_retry_interval_micros",
                         int(LOAD_RETRY_SECONDS * 1e6),
                         "Microseconds between those tries.")
    flags.DEFINE_boolean("allow_version_labels_for_unavailable_models", False,
                         "Let a new label point at a version not yet "
                         "available (needed for labels in the config the "
                         "server starts with).")
    flags.DEFINE_boolean("enable_batching", False,
                         "TF Serving's session-level batching: merge "
                         "concurrent requests of one signature into one run. "
                         "amr_tf exports batch in their graph and are served "
                         "without it (export/README.md).")
    flags.DEFINE_string("batching_parameters_file", None,
                        "BatchingParameters text proto for --enable_batching "
                        "(TF Serving's format); unset: TF Serving's defaults.")


def main(argv):
    values = flags.FLAGS
    reject_extra_arguments(argv)
    if bool(values.model_base_path) == bool(values.model_config_file):
        fail("pass one of --model_base_path or --model_config_file")
    logging.set_verbosity(logging.INFO)
    if values.batching_parameters_file and not values.enable_batching:
        fail("--batching_parameters_file needs --enable_batching")
    try:
        batching = batching_parameters.chosen(
            values.enable_batching, values.batching_parameters_file,
            batching_parameters.BatchingParameters())
        sources = (sources_from_config_file(values.model_config_file)
                   if values.model_config_file
                   else [ModelSource(values.model_name, values.model_base_path)])
        server = ModelServer(
            sources, host=values.host, port=values.port,
            rest_port=values.rest_api_port,
            poll_seconds=values.file_system_poll_wait_seconds,
            max_batch_size=values.max_batch_size,
            config_file=values.model_config_file,
            config_poll_seconds=values.model_config_file_poll_wait_seconds,
            max_load_retries=values.max_num_load_retries,
            load_retry_seconds=max(0, values.load_retry_interval_micros) / 1e6,
            allow_labels_for_unavailable=(
                values.allow_version_labels_for_unavailable_models),
            batching=batching)
    except (ValueError, OSError) as error:
        fail(str(error).splitlines()[0])
    server.start()
    endpoints = f"{server.address} (gRPC)"
    if server.rest:
        endpoints += f" and {server.rest.address} (REST)"
    for name in server.repository.model_names:
        servable = server.repository.get(name)
        signatures = sorted(
            key for key, signature in servable.bundle.signature_defs.items()
            if signature.method_name == PREDICT_METHOD_NAME)
        print(f"Serving model {name} version {servable.version} "
              f"({', '.join(signatures)}) on {endpoints}", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop(grace=1.0)


def run():
    """The `amr-serve` console script."""
    _define_flags()
    run_main(main)
