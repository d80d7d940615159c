"""A WSGI application served by waitress from a daemon thread.

Waitress reads every connection on one event-loop thread and hands a
request to its `threads` workers only once the request is whole (headers,
and the body with any chunked encoding undone), so idle or slow clients hold
a socket, not a worker. Connections are kept alive between requests; one
with no activity for `idle_timeout` seconds (idle between requests, or
stalled inside one) is closed. Waitress's own refusals (malformed framing, a
body over `max_body_bytes`) are answered as `{"error": message}` JSON like
the applications' own.
"""

import http
import socket
import threading

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask
from waitress.utilities import RequestEntityTooLarge

from amr_tf.web import json_codec

IDLE_TIMEOUT_SECONDS = 30
CONNECTION_LIMIT = 1000  # Open connections; past it new ones wait in the backlog.


def too_large_answer(size, limit):
    """`(HTTP status, message)` for a body of `size` bytes over `limit`."""
    return 413, (f"request body of {size} bytes is over this server's limit "
                 f"of {limit} bytes")


def status_line(status):
    """WSGI's status text of an HTTP status code, e.g. "404 Not Found"
    (codes outside the standard's, such as 499, get no phrase)."""
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def json_response(start_response, status, document, headers=()):
    """Starts a JSON answer of `document` with HTTP `status`; returns its
    body for the WSGI server."""
    data = json_codec.dumps(document)
    start_response(status_line(status), [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))), *headers])
    return [data]


class _ErrorTask(ErrorTask):
    """Waitress's refusal of a request, as `{"error": message}`."""

    def execute(self):
        request = self.request
        error = request.error
        if isinstance(error, RequestEntityTooLarge):
            limit = self.channel.server.adj.max_request_body_size - 1
            size = max(request.content_length, request.body_bytes_received)
            status, message = self.channel.too_large(size, limit)
        else:
            status, message = error.code, f"{error.reason}: {error.body}"
        data = json_codec.dumps({"error": message})
        self.status = status_line(status)
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(data)
        self.write(data)


class _Channel(HTTPChannel):
    error_task_class = _ErrorTask
    too_large = staticmethod(too_large_answer)


class WSGIServer:
    """Serves `app` on `host:port` from a daemon thread.

    Args:
        app: the WSGI application.
        host: address to bind.
        port: port to bind; 0 picks a free one (see `self.port`).
        threads: requests answered at once; more wait their turn.
        idle_timeout: seconds a connection may stay without activity.
        max_body_bytes: largest request body; a larger one is refused
            before it is read (as far as its Content-Length says).
        too_large: `(size, limit) -> (HTTP status, message)` of that refusal.
        cleanup_interval: seconds between looks for idle connections.

    Raises:
        OSError: `host:port` cannot be bound.
    """

    def __init__(self, app, host, port, threads=16,
                 idle_timeout=IDLE_TIMEOUT_SECONDS, max_body_bytes=2**30,
                 too_large=too_large_answer, cleanup_interval=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            listener = socket.create_server((host, port), family=family)
        except OSError:
            raise OSError(f"cannot bind {host}:{port}") from None
        self.host = host
        self.port = listener.getsockname()[1]
        self._map = {}
        self._server = waitress.create_server(
            app, map=self._map, sockets=[listener], threads=threads,
            channel_timeout=idle_timeout,
            cleanup_interval=cleanup_interval or max(1, idle_timeout // 2),
            connection_limit=CONNECTION_LIMIT, asyncore_use_poll=True,
            max_request_body_size=max_body_bytes + 1, ident="amr_tf")
        self._server.channel_class = type(
            "Channel", (_Channel,), {"too_large": staticmethod(too_large)})
        self._stopping = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def _serve(self):
        while not self._stopping.is_set():
            wasyncore.loop(timeout=self._server.adj.asyncore_loop_timeout,
                           map=self._map, use_poll=True, count=1)

    def start(self):
        """Serves in the daemon thread."""
        self._thread.start()
        return self

    def wait(self):
        """Blocks until the server stops."""
        self._thread.join()

    def stop(self):
        """Stops: requests being answered finish (for up to 5 s), queued
        ones are dropped, every connection closes. Stopping twice is a
        no-op."""
        if self._stopped:
            return
        self._stopped = True
        self._server.task_dispatcher.shutdown()
        self._stopping.set()
        if self._thread.is_alive():
            # The loop never closes the wake-up pipe itself, so it is open
            # here (closing it in the loop raced this write: EBADF, or a
            # byte written into whatever file reused the descriptor).
            self._server.pull_trigger()
            self._thread.join()
        wasyncore.close_all(self._map)
