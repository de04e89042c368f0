"""`mmtui --serve`: the monitor served to invited web browsers with textual-serve, each tab running its own
mmtui.

Invited means holding the link: a random token in the printed URL (as Jupyter's), without which the page and
its websocket are refused. A websocket must also come from a page of this server (its Origin), and, bound to
localhost, be addressed to localhost (its Host: a DNS-rebound name is refused). Tabs are bounded: each is a
process that trains.
"""

from __future__ import annotations

import errno
import html
import ipaddress
import secrets
import shlex
import socket
import sys

VALUED_SERVE_OPTIONS = ("--host", "--port", "--max-tabs")
TOKEN_BYTES = 24  # 192 random bits, URL-safe: 32 characters in the link
MAX_TABS = 4  # tabs served at once: each runs an mmtui and its trainer (~0.3 GB and a core while it trains)
LOCAL_NAMES = ("localhost",)


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


def is_local(host: str) -> bool:
    """Whether a host name or address is this machine's loopback: 127.0.0.0/8, ::1, localhost."""
    host = host.strip("[]")
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def link(host: str, port: int, token: str) -> str:
    """The URL to open: an address that binds every interface is named by this machine's name instead, which
    the room's machines can reach."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    url_host = f"[{host}]" if ":" in host else host  # an IPv6 address is bracketed in a URL
    return f"http://{url_host}:{port}/?token={token}"


def greeting(host: str, port: int, token: str) -> list[str]:
    """What the command prints when it starts serving: the link, and a warning when it is reachable from
    other machines."""
    lines = [f"mmtui: serving on {link(host, port, token)} (Ctrl+C stops)"]
    if not is_local(host):
        lines.append(f"mmtui: warning: bound to {host}, so reachable from other machines: anyone with this "
                     "link can watch and press keys; share it with the room only")
    return lines


def run_server(argv: list[str], host: str, port: int, max_tabs: int = MAX_TABS) -> int:
    """Serve the monitor on host:port until Ctrl+C or SIGTERM; the exit code."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise ServeError("serving to a browser needs textual-serve: pip install 'mmtui[serve]'") from None
    _check_free(host, port)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    server = _invited_only(Server)(served_command(argv), host=host, port=port, title="mmtui")
    server.token, server.max_tabs = token, max_tabs
    for line in greeting(host, port, token):
        print(line, file=sys.stderr, flush=True)
    try:
        # The server turns SIGINT and SIGTERM into a graceful exit that tells every tab's mmtui to quit.
        server.serve()
    except KeyboardInterrupt:  # Ctrl+C before the server's own handler is in place
        return 130
    return 0


def _invited_only(Server):
    """textual-serve's Server, serving the invited only: its class is made here, where textual-serve (an
    optional extra) has been imported."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import web

    class InvitedServer(Server):
        token = ""  # the link's token: the page and its websocket ask for it
        max_tabs = MAX_TABS
        tabs = 0  # websockets open, each a tab's mmtui

        async def _make_app(self) -> web.Application:
            app = web.Application()
            aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
            app.add_routes([
                web.get("/", self.handle_index, name="index"),
                # the page adds ?width=&height=
                web.get("/ws/{token}", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ])
            return app

        def _refusal(self, request: web.Request, token: str) -> web.Response | None:
            """The page that refuses a request, or None for an invited one."""
            requested = request.url.host or ""
            if is_local(self.host) and not is_local(requested):
                return _page(403, f"This monitor answers on {self.host} only, not {requested}.")
            if not secrets.compare_digest(token.encode(), self.token.encode()):
                return _page(403, "This monitor needs the link with its token, as mmtui printed it where it "
                                  "was started.")
            if self.tabs >= self.max_tabs:
                return _page(503, f"All {self.max_tabs} tabs this monitor serves are open: each runs its own "
                                  f"training. Close one (or ask for a larger --max-tabs), then reload.")
            return None

        async def handle_index(self, request: web.Request) -> web.Response:
            refusal = self._refusal(request, request.query.get("token", ""))
            if refusal is not None:
                return refusal
            # The page's links name the host the browser used: a room's machine reaches this one by that name,
            # where a bound 0.0.0.0 would be no address at all.
            origin = f"{request.scheme}://{request.host}"
            websocket = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}/ws/{self.token}"
            font_size = request.query.get("fontsize", "16")
            context = {"font_size": int(font_size) if font_size.isdigit() else 16,
                       "app_websocket_url": websocket, "config": {"static": {"url": f"{origin}/static/"}},
                       "application": {"name": self.title}}
            return aiohttp_jinja2.render_template("app_index.html", request, context)

        async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
            refusal = self._refusal(request, request.match_info["token"])
            origin = request.headers.get("Origin")
            if refusal is None and origin is not None and origin != f"{request.scheme}://{request.host}":
                refusal = _page(403, "A page of another site may not open this monitor.")
            if refusal is not None:
                return refusal
            self.tabs += 1
            try:
                return await super().handle_websocket(request)
            finally:
                self.tabs -= 1

        async def on_startup(self, app: web.Application) -> None:
            """run_server() has printed the link: textual-serve's banner would print one without its token."""

    return InvitedServer


def _page(status: int, text: str):
    from aiohttp import web

    body = ("<!doctype html><html><head><meta charset='utf-8'><title>mmtui</title></head>"
            "<body style='font-family:sans-serif;margin:3em'><h1>mmtui</h1>"
            f"<p>{html.escape(text)}</p></body></html>")
    return web.Response(status=status, text=body, content_type="text/html")


def _check_free(host: str, port: int) -> None:
    """Bind every address host names, as the server will, so that a port in use is one line rather than the
    server's traceback. SO_REUSEADDR as the server sets it: a port left in TIME_WAIT by a server just stopped
    is free to it."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, protocol, _, address in addresses:
            with socket.socket(family, kind, protocol) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as error:
        reason = "the port is in use" if error.errno == errno.EADDRINUSE else error.strerror or str(error)
        raise ServeError(f"cannot serve on {host}:{port}: {reason}") from None
