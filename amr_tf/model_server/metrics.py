"""Prometheus metrics of the stand-in server, served on its REST port at
TF Serving's path (`METRICS_PATH`).

    amr_serving_requests_total{transport, api, model, signature, code}
    amr_serving_request_latency_seconds{transport, api, model, signature}
    amr_rest_requests_total{status}
    process_*   (the server process's CPU, memory and open descriptors)

The first two count what reaches the `ServingCore` over gRPC and REST
(`api`: predict, metadata, status; `code`: the gRPC status code name); the
third counts every REST request by HTTP status, including those refused
before they become a TF Serving request (a malformed path or body, or an
unknown model or signature met while the body is converted). Labels are
bounded: a model the server does not serve is counted as model "", and a
signature the request could not reach (unknown model, version or
signature) as signature "".
"""

import grpc
import prometheus_client

from amr_tf.tfserving.contract import DEFAULT_SIGNATURE_KEY

# TF Serving's default path of its Prometheus endpoint (PrometheusExporter).
METRICS_PATH = "/monitoring/prometheus/metrics"

# Seconds: a few ms (metadata) to seconds (a large batch on a busy CPU).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                   1.0, 2.5, 5.0, 10.0, 30.0, float("inf"))
_UNREACHED = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)


class ServingMetrics:
    """The metrics of one server, in a registry of their own.

    Args:
        model_names: `() -> ` the names of the models served now.
    """

    def __init__(self, model_names):
        self._model_names = model_names
        self.registry = prometheus_client.CollectorRegistry()
        self.requests = prometheus_client.Counter(
            "amr_serving_requests", "Requests answered, by transport, API, "
            "model, signature and gRPC status code.",
            ["transport", "api", "model", "signature", "code"],
            registry=self.registry)
        self.latency = prometheus_client.Histogram(
            "amr_serving_request_latency_seconds", "Seconds to answer a "
            "request, by transport, API, model and signature.",
            ["transport", "api", "model", "signature"],
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rest_requests = prometheus_client.Counter(
            "amr_rest_requests", "REST requests answered, by HTTP status.",
            ["status"], registry=self.registry)
        prometheus_client.ProcessCollector(registry=self.registry)
        self.wsgi_app = prometheus_client.make_wsgi_app(self.registry)

    def observe(self, transport, api, model_spec, code, seconds):
        """Counts one request to `api` for `model_spec` that ended with the
        gRPC status `code` after `seconds`."""
        model = model_spec.name if model_spec.name in self._model_names() else ""
        signature = ""
        if api == "predict" and model and code not in _UNREACHED:
            signature = model_spec.signature_name or DEFAULT_SIGNATURE_KEY
        self.requests.labels(transport, api, model, signature,
                             code.name).inc()
        self.latency.labels(transport, api, model, signature).observe(seconds)
