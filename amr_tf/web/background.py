"""An `http.server` server that answers on its own daemon thread."""

import threading


class BackgroundHTTPServer:
    """Binds a server on `host:port` and serves it in a daemon thread.

    Args:
        make_server: `(host, port) -> ` a bound `http.server.HTTPServer`.
        host: address to bind.
        port: port to bind; 0 picks a free one (see `self.port`).

    Raises:
        OSError: `host:port` cannot be bound.
    """

    def __init__(self, make_server, host, port):
        try:
            self._httpd = make_server((host, port))
        except OSError:
            raise OSError(f"cannot bind {host}:{port}") from None
        self.host = host
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        daemon=True)

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def start(self):
        """Serves in the daemon thread."""
        self._thread.start()
        return self

    def wait(self):
        """Blocks until the server stops."""
        self._thread.join()

    def stop(self):
        """Stops accepting requests; requests being answered finish."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()
