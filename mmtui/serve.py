"""`mmtui --serve`: the monitor served to web browsers with textual-serve, each tab running its own mmtui."""

from __future__ import annotations

import errno
import shlex
import socket
import sys

VALUED_SERVE_OPTIONS = ("--host", "--port")


class ServeError(Exception):
    """Why serving cannot start, in one line."""


def served_command(argv: list[str]) -> str:
    """The command textual-serve runs for each browser tab: this mmtui with argv (sys.argv[1:], a subcommand
    first or not), less the options that serve it."""
    kept = []
    args = iter(argv)
    for arg in args:
        if arg in VALUED_SERVE_OPTIONS:
            next(args, None)
        elif arg != "--serve" and not arg.startswith(tuple(f"{option}=" for option in VALUED_SERVE_OPTIONS)):
            kept.append(arg)
    return shlex.join([sys.executable, "-m", "mmtui", *kept])


def serve(argv: list[str], host: str, port: int) -> int:
    """Serve the monitor on host:port until Ctrl+C or SIGTERM; the exit code."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise ServeError("serving to a browser needs textual-serve: pip install 'mmtui[serve]'") from None
    _check_free(host, port)
    url_host = f"[{host}]" if ":" in host else host  # an IPv6 address is bracketed in a URL
    print(f"mmtui: serving on http://{url_host}:{port} (Ctrl+C stops)", file=sys.stderr, flush=True)
    try:
        # The server turns SIGINT and SIGTERM into a graceful exit that tells every tab's mmtui to quit.
        Server(served_command(argv), host=host, port=port, title="mmtui").serve()
    except KeyboardInterrupt:  # Ctrl+C before the server's own handler is in place
        return 130
    return 0


def _check_free(host: str, port: int) -> None:
    """Bind every address host names, as the server will, so that a port in use is one line rather than the
    server's traceback. SO_REUSEADDR as the server sets it: a port left in TIME_WAIT by a server just stopped is
    free to it."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, protocol, _, address in addresses:
            with socket.socket(family, kind, protocol) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as error:
        reason = "the port is in use" if error.errno == errno.EADDRINUSE else error.strerror or str(error)
        raise ServeError(f"cannot serve on {host}:{port}: {reason}") from None
