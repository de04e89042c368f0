"""`mmtui --serve`: the command each browser tab runs, the one-line refusals, the served child, and the
monitor drawn and trained in a real headless chromium."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mmtui.serve import served_command

from child_output import Deadline
from test_headless_cli import assert_one_line_error, mmtui

HAS_TEXTUAL_SERVE = importlib.util.find_spec("textual_serve") is not None
needs_textual_serve = pytest.mark.skipif(not HAS_TEXTUAL_SERVE, reason="textual-serve is not installed "
                                                                        "(pip install 'mmtui[serve]')")
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"  # what textual-serve names in each tab's TEXTUAL_DRIVER


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("argv, kept", [
    (["--serve"], []),
    (["--serve", "--host", "0.0.0.0", "--port", "8123", "--steps", "300"], ["--steps", "300"]),
    (["--host=0.0.0.0", "--data", "my words.txt", "--port=9000", "--serve", "--keys", "10:3"],
     ["--data", "my words.txt", "--keys", "10:3"]),
    (["lesson", "--serve", "--port", "8123", "--file", "mine.md"], ["lesson", "--file", "mine.md"]),
])
def test_the_served_command_is_this_mmtui_without_the_serve_options(argv, kept):
    assert shlex.split(served_command(argv)) == [sys.executable, "-m", "mmtui", *kept]


@needs_textual_serve
def test_a_port_in_use_is_one_line_naming_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_line_error(mmtui("--serve", "--port", str(port)), f"127.0.0.1:{port}")


@pytest.mark.parametrize("args", [["--serve", "--headless"], ["lesson", "--serve", "--no-terminal"]])
def test_serving_refuses_the_modes_without_a_screen(args):
    assert_one_line_error(mmtui(*args, "--port", str(free_port())), "--serve cannot be combined with")


def test_bad_data_is_one_line_before_serving_not_one_in_every_tab(tmp_path):
    assert_one_line_error(mmtui("--serve", "--port", str(free_port()), "--data", str(tmp_path / "none.txt")),
                          "none.txt")


NO_TEXTUAL_SERVE = ("import sys; sys.modules['textual_serve'] = None; sys.argv[0] = 'mmtui'; "
                    "from mmtui.cli import main; main()")


def test_without_the_extra_serving_says_how_to_install_it():
    result = subprocess.run([sys.executable, "-c", NO_TEXTUAL_SERVE, "--serve", "--port", str(free_port())],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert_one_line_error(result, "serving to a browser needs textual-serve: pip install 'mmtui[serve]'")


def quit_packet() -> bytes:
    """textual-serve's quit, as it frames a meta packet to the app on stdin."""
    payload = json.dumps({"type": "quit"}).encode()
    return b"M" + len(payload).to_bytes(4, "big") + payload


def test_a_served_child_runs_on_pipes_and_quits_when_the_server_says(small_words_path):
    # What textual-serve starts for a tab, with no terminal: it must draw on stdout rather than refuse.
    env = dict(os.environ, TEXTUAL_DRIVER=WEB_DRIVER, COLUMNS="120", ROWS="40")
    child = subprocess.Popen([sys.executable, "-m", "mmtui", "--steps", "300",
                              "--data", str(small_words_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             start_new_session=True)
    try:
        drawn = b""
        deadline = Deadline(60, "waiting for the served child's first frame",
                            lambda: f"; it wrote {drawn[:200]!r}")
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            while len(drawn) < 10_000:  # the greeting, then a screenful
                if selector.select(deadline.left()):
                    chunk = os.read(child.stdout.fileno(), 65536)
                    assert chunk, child.communicate(timeout=30)[1].decode()
                    drawn += chunk
        assert drawn.startswith(b"__GANGLION__\n")  # the web driver's greeting: the app started
        child.stdin.write(quit_packet())
        child.stdin.flush()
        _, stderr = child.communicate(timeout=30)
        assert child.returncode == 0, stderr.decode()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()


def test_a_tab_closed_while_its_mmtui_starts_still_ends_it(small_words_path):
    # A resize and a quit before the app is up sent Textual's shutdown into an endless loop that took no
    # signal: the process, and its trainer, stayed behind. The command ends a shutdown that hangs.
    env = dict(os.environ, TEXTUAL_DRIVER=WEB_DRIVER, COLUMNS="120", ROWS="40")
    child = subprocess.Popen([sys.executable, "-m", "mmtui", "--steps", "100000",
                              "--data", str(small_words_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=env, start_new_session=True)
    try:
        time.sleep(0.3)
        resize = json.dumps({"type": "resize", "width": 100, "height": 30}).encode()
        child.stdin.write(b"M" + len(resize).to_bytes(4, "big") + resize + quit_packet())
        child.stdin.flush()
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 0, stderr.decode()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()


def start_server(args: list[str], cwd: Path) -> subprocess.Popen:
    """`mmtui --serve ...` in a session of its own, so that stop_server() reaches every tab's mmtui too."""
    with (cwd / "server.out").open("wb") as out, (cwd / "server.err").open("wb") as err:  # files: never full
        return subprocess.Popen([sys.executable, "-m", "mmtui", "--serve", *args], cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)


def served_link(cwd: Path) -> str:
    """The link the server printed, token and all; "" until it has."""
    err = cwd / "server.err"
    first = err.read_text().partition("\n")[0] if err.exists() else ""
    return first.split()[3] if first.startswith("mmtui: serving on ") else ""


def wait_until_answering(server: subprocess.Popen, port: int, cwd: Path) -> str:
    """Wait until the server answers its printed link with the page; the link, asked of 127.0.0.1."""
    deadline = Deadline(60, f"waiting for the server on port {port}",
                        lambda: "\n" + (cwd / "server.err").read_text())
    while True:
        assert server.poll() is None, (cwd / "server.err").read_text()
        link = served_link(cwd)
        local = f"http://127.0.0.1:{port}/?" + link.partition("?")[2]
        try:
            if link:
                with urllib.request.urlopen(local, timeout=deadline.left()) as page:
                    if page.status == 200:
                        return local
        except OSError:  # refused until the server listens; URLError is one
            pass
        time.sleep(0.2)


def stop_server(server: subprocess.Popen) -> int | None:
    """Ctrl+C, as a terminal sends it to the whole group; then SIGKILL for whatever is left of the group. The
    server's exit code, or None if it had to be killed."""
    code = None
    for stop in (signal.SIGINT, signal.SIGTERM):
        try:
            os.killpg(server.pid, stop)
            code = server.wait(timeout=20)
            break
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            break
    try:
        os.killpg(server.pid, signal.SIGKILL)  # a tab's mmtui or trainer that outlived the server
    except ProcessLookupError:
        pass
    server.wait(timeout=20)
    return code


@needs_textual_serve
def test_ctrl_c_stops_the_server_without_a_traceback(tmp_path):
    port = free_port()
    server = start_server(["--port", str(port)], tmp_path)
    try:
        wait_until_answering(server, port, tmp_path)
    finally:
        code = stop_server(server)
    stderr = (tmp_path / "server.err").read_text()
    assert code in (0, 130), stderr
    assert "Traceback" not in stderr
    assert re.fullmatch(rf"mmtui: serving on http://127\.0\.0\.1:{port}/\?token=[\w-]{{32}} "
                        r"\(Ctrl\+C stops\)", stderr.splitlines()[0])
    assert "warning" not in stderr  # bound to localhost


async def browse(url: str, profile: Path, trained, timeout: float) -> tuple[float, bytes]:
    """Open url in headless chromium and screenshot it once trained() holds: the seconds until textual-serve's
    page showed the app's first bytes, and the PNG.

    chromium's own `--screenshot --virtual-time-budget=N` cannot show the monitor: virtual time runs ahead
    while the page waits on its websocket (15 s of budget passed in ~1.6 s), so the shot shows textual-serve's
    splash before the served mmtui (~2 s to start) has drawn. Over the DevTools protocol the
    test waits in real time.
    """
    import aiohttp  # textual-serve's own dependency

    chrome = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                               "--remote-debugging-port=0", f"--user-data-dir={profile}",
                               "--window-size=1280,800", "about:blank"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return await asyncio.wait_for(_drive(chrome, url, profile, trained, aiohttp), timeout)
    finally:
        chrome.terminate()
        try:
            chrome.wait(timeout=10)
        except subprocess.TimeoutExpired:
            chrome.kill()
            chrome.wait()


async def _drive(chrome: subprocess.Popen, url: str, profile: Path, trained, aiohttp) -> tuple[float, bytes]:
    port_file = profile / "DevToolsActivePort"  # chromium writes the port it picked here
    while not (port_file.exists() and port_file.read_text().strip()):
        assert chrome.poll() is None, "chromium exited at start"
        await asyncio.sleep(0.1)
    port = port_file.read_text().split()[0]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
            page = next(target for target in await response.json() if target["type"] == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as devtools:
            calls = iter(range(1, 1_000_000))

            async def call(method: str, **params):
                number = next(calls)
                await devtools.send_json({"id": number, "method": method, "params": params})
                async for message in devtools:
                    reply = json.loads(message.data)
                    if reply.get("id") == number:
                        return reply["result"]

            opened = time.monotonic()
            await call("Page.navigate", url=url)
            # textual-serve's page marks its body when the app's first bytes arrive (the body is null
            # while the page loads)
            first_byte = "document.body !== null && document.body.classList.contains('-first-byte')"
            while not (await call("Runtime.evaluate", expression=first_byte,
                                  returnByValue=True))["result"]["value"]:
                await asyncio.sleep(0.2)
            first_frame_s = time.monotonic() - opened
            while not trained():
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)  # the monitor redraws twice a second: the trained steps reach the screen
            shot = await call("Page.captureScreenshot", format="png")
            return first_frame_s, base64.b64decode(shot["data"])


def snapshot_steps(run_file: Path) -> list[int]:
    if not run_file.exists():
        return []
    written = run_file.read_text().split("\n")[:-1]  # the lines ended so far: the trainer may be amid one
    return [event["step"] for event in map(json.loads, written) if event["event"] == "snapshot"]


@needs_textual_serve
@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium to open the served monitor "
                                                              "(apt-get install chromium)")
def test_a_browser_tab_gets_the_monitor_and_its_own_training_run(tmp_path, small_words_path):
    port = free_port()
    run_file = tmp_path / "RUN.jsonl"
    server = start_server(["--port", str(port), "--steps", "300", "--eval-every", "0",
                           "--data", str(small_words_path), "--log", str(run_file)], tmp_path)
    try:
        link = wait_until_answering(server, port, tmp_path)
        assert not run_file.exists()  # the server trains nothing: each tab's mmtui does
        first_frame_s, png = asyncio.run(browse(link, tmp_path / "chromium",
                                                lambda: 300 in snapshot_steps(run_file), timeout=120))
    finally:
        stop_server(server)
    (tmp_path / "served.png").write_bytes(png)
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    assert first_frame_s < 60
    assert snapshot_steps(run_file)[0] == 1  # the tab's run trained from its first step to --steps


# ---- for the invited only: the token, Origin and Host, a bounded number of tabs

async def visit(url: str, headers: dict | None = None) -> tuple[int, str]:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers or {}) as response:
            return response.status, await response.text()


async def open_tab(url: str, origin: str | None):
    """A real websocket client's handshake; the open websocket and its session, or the refusal's status."""
    import aiohttp

    session = aiohttp.ClientSession()
    try:
        return await session.ws_connect(url, headers={"Origin": origin} if origin else {}), session
    except aiohttp.WSServerHandshakeError as refusal:
        await session.close()
        return refusal.status, None


@needs_textual_serve
def test_the_page_and_its_websocket_are_for_the_invited_only(tmp_path, small_words_path):
    port = free_port()
    server = start_server(["--port", str(port), "--max-tabs", "1", "--steps", "100000", "--eval-every", "0",
                           "--data", str(small_words_path)], tmp_path)
    try:
        link = wait_until_answering(server, port, tmp_path)
        token = link.partition("token=")[2]
        here = f"http://127.0.0.1:{port}"

        async def check() -> None:
            status, page = await visit(f"{here}/")
            assert status == 403 and "needs the link with its token" in page
            assert (await visit(f"{here}/?token=x{token}"))[0] == 403
            status, page = await visit(link)
            assert status == 200 and f'"ws://127.0.0.1:{port}/ws/{token}"' in page
            # DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1
            status, page = await visit(link, {"Host": f"evil.example:{port}"})
            assert status == 403 and "answers on 127.0.0.1 only" in page
            ws = f"ws://127.0.0.1:{port}/ws/{token}?width=100&height=30"
            assert (await open_tab(f"ws://127.0.0.1:{port}/ws/wrong?width=100&height=30", here))[0] == 403
            assert (await open_tab(f"ws://127.0.0.1:{port}/ws/?width=100&height=30", here))[0] == 404
            assert (await open_tab(ws, "http://evil.example"))[0] == 403
            tab, session = await open_tab(ws, here)
            try:
                assert not isinstance(tab, int), tab
                status, page = await visit(link)  # one tab is all this server serves
                assert status == 503 and "All 1 tabs this monitor serves are open" in page
                assert (await open_tab(ws, here))[0] == 503
            finally:
                await tab.close()
                await session.close()

        asyncio.run(check())
    finally:
        stop_server(server)


@needs_textual_serve
def test_bound_beyond_localhost_it_warns_and_the_page_names_the_host_the_browser_used(tmp_path):
    port = free_port()
    server = start_server(["--host", "0.0.0.0", "--port", str(port)], tmp_path)
    try:
        link = wait_until_answering(server, port, tmp_path)
        token = link.partition("token=")[2]
        lines = (tmp_path / "server.err").read_text().splitlines()
        assert lines[0].startswith(f"mmtui: serving on http://{socket.gethostname()}:{port}/?token={token}")
        assert lines[1].startswith("mmtui: warning: bound to 0.0.0.0, so reachable from other machines")
        status, page = asyncio.run(visit(link, {"Host": f"classroom-pc:{port}"}))
        assert status == 200 and f'"ws://classroom-pc:{port}/ws/{token}"' in page and "0.0.0.0" not in page
    finally:
        stop_server(server)


async def test_a_served_tab_offers_no_key_that_writes_a_file_unless_allowed(tmp_path, monkeypatch):
    from app_sources import ScriptedSource
    from mmtui.tui.app import MmtuiApp

    monkeypatch.chdir(tmp_path)
    for writes in (False, True):
        app = MmtuiApp(ScriptedSource([]), writes=writes)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press("s")
            await pilot.pause(0.2)
            assert (app.check_action("save_checkpoint", ()) is not False) == writes
        assert bool(list(tmp_path.glob("mmtui-*.svg"))) == writes


@needs_textual_serve
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_a_killed_server_leaves_no_tab_training(tmp_path, small_words_path):
    from test_no_orphans import children, living, wait_gone

    port = free_port()
    run_file = tmp_path / "RUN.jsonl"
    server = start_server(["--port", str(port), "--steps", "10000000", "--compile", "off", "--eval-every",
                           "0", "--data", str(small_words_path), "--log", str(run_file)], tmp_path)
    try:
        link = wait_until_answering(server, port, tmp_path)
        ws = f"ws://127.0.0.1:{port}/ws/{link.partition('token=')[2]}?width=100&height=30"

        async def killed_under_an_open_tab() -> list[int]:
            tab, session = await open_tab(ws, f"http://127.0.0.1:{port}")
            try:
                deadline = Deadline(60, "the tab's trainer to train")
                while len(snapshot_steps(run_file)) < 2:  # the tab's app is up, its trainer trains
                    await asyncio.sleep(min(0.2, deadline.left()))
                family = _descendants(server.pid, children)  # sh, the tab's mmtui, its trainer
                server.kill()  # SIGKILL: the server runs no code; the tab sees its stdin hang up
                return family
            finally:
                await tab.close()
                await session.close()

        family = asyncio.run(killed_under_an_open_tab())
        server.wait(10)
        wait_gone(family, 30)
    finally:
        stop_server(server)


def _descendants(pid: int, children) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return [p for p in found if Path(f"/proc/{p}").exists()]
