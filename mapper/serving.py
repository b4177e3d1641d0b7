"""Running the web app: one process on waitress, or several worker processes on gunicorn.

Python runs one thread's code at a time in a process, so a pool of threads answers many
slow clients at once but uses one core for the app's own work. ``mapper serve`` therefore
has two modes:

* ``--workers 1`` (the default, any system): waitress, a production WSGI server, with a
  pool of threads in this process;
* ``--workers N`` (N > 1, Linux and macOS): gunicorn with N worker processes of
  ``--threads`` threads each. The app and its caches (the workspace's layers, the
  nearest-groups index, the overview map) are made once, before the workers are forked,
  so they start warm and share that memory until they change it (what the app warms in
  the background, every CAN's page, each worker warms after the fork). Everything that must be
  the same in every worker lives in the workspace's files, not in a process: the data,
  the edits overlay and its counter, accounts, sessions' signing key and the sign-in rate
  limits; each worker notices a change on its next request.

Neither server logs requests (query strings can hold postcodes or names).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from flask import Flask

from mapper.errors import MapperError

#: ``on_ready(port)`` is called once the server listens (with the port it chose for 0)
Ready = Callable[[int], None]


def serve(app: Flask, *, host: str, port: int, workers: int, threads: int,
          on_ready: Ready) -> None:
    """Serve `app` until interrupted (Ctrl+C, SIGTERM)."""
    if workers <= 1:
        _waitress(app, host, port, threads, on_ready)
    else:
        _gunicorn(app, host, port, workers, threads, on_ready)


def _on_serve(app: Flask) -> None:
    """What the app asked to run in each process that serves it, once it listens (the web
    app's background warm-up: ``app.extensions["mapper.on_serve"]``)."""
    hook = app.extensions.get("mapper.on_serve")
    if hook is not None:
        hook()


def _waitress(app: Flask, host: str, port: int, threads: int, on_ready: Ready) -> None:
    from waitress import create_server

    # bound before on_ready is told: once the URL shows, the server answers
    server = create_server(app, host=host, port=port, threads=threads,
                           ident="neighbourhood-mapper")
    on_ready(int(getattr(server, "effective_port", port)))
    _on_serve(app)
    server.run()  # returns on Ctrl+C, after the worker threads have stopped


def _gunicorn(app: Flask, host: str, port: int, workers: int, threads: int,
              on_ready: Ready) -> None:
    if sys.platform == "win32":
        raise MapperError("--workers above 1 needs Linux or macOS (gunicorn); on Windows "
                          "serve with --workers 1 and more --threads")
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # pragma: no cover - a dependency on every POSIX system
        raise MapperError("--workers above 1 needs gunicorn: pip install gunicorn") from None

    def when_ready(server) -> None:
        on_ready(server.LISTENERS[0].sock.getsockname()[1])

    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "preload_app": True,  # caches made once, before the fork
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "keepalive": 5,
        "timeout": 120,  # a worker silent this long (a stuck request) is replaced
        "graceful_timeout": 10,
        "proc_name": "neighbourhood-mapper",
        "when_ready": when_ready,
        # in each worker, after the fork (a thread started before it would not survive)
        "post_fork": lambda _server, _worker: _on_serve(app),
    }

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    os.environ.pop("GUNICORN_CMD_ARGS", None)  # only the options above apply
    Server().run()
