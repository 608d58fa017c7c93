"""A local static web server, and the Chromium that looks at what it serves.

Shared by tests/site/test_browser.py (the built site), benchmarks/site_speed.py (the
site and its baseline, gzip-compressed) and tools/render_diagrams.py (Mermaid
from node_modules). Standard library only.

    with serve(folder, gzip=True) as url:   # http://127.0.0.1:<free port>
        ...
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gzip as gzip_module
import http.server
import io
import os
import threading
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

# Debian's Chromium (apt-get install chromium); CHROMIUM names another binary.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless in a container or as root: no sandbox, and nothing that calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_problem() -> str | None:
    """None if CHROMIUM can run, else one line saying what to do."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    return f"no Chromium at {CHROMIUM}: `sudo apt-get install chromium`, or set CHROMIUM"


# What SimpleHTTPRequestHandler serves for a folder's address, in its order.
INDEX_PAGES = ("index.html", "index.htm")


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder quietly. A missing path gets the folder's 404.html with
    status 404, as on GitHub Pages. With gzip, text goes out compressed when the
    browser asks, as GitHub Pages and most static hosts send it."""

    TEXT = (".html", ".css", ".js", ".mjs", ".json", ".svg", ".xml", ".txt")
    use_gzip = False

    def send_head(self):
        path = self.path_inside()
        if path is None:
            return None
        if not self.use_gzip or "gzip" not in self.headers.get("Accept-Encoding", ""):
            return super().send_head()
        if path.is_dir():
            if not self.path.split("?")[0].endswith("/"):
                return super().send_head()  # redirects to the folder with a slash
            path = path / "index.html"
        if not (path.suffix in self.TEXT and path.is_file()):
            return super().send_head()
        body = gzip_module.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def path_inside(self) -> Path | None:
        """The path the request names if what it serves really is in the folder,
        else None, the error sent. The file system's refusals (a NUL byte, an
        unencodable or too long name) would otherwise end the request with a
        traceback, and a symlink could hand out any file the server can read."""
        path = Path(self.translate_path(self.path))
        try:
            served = Path(os.path.realpath(path, strict=True))
            if served.is_dir():  # its index page if it has one, as the base class picks it
                served = next((served / i for i in INDEX_PAGES if (served / i).is_file()), served)
            inside = self.inside(served)
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST)
            return None
        except OSError as error:
            too_long = error.errno == errno.ENAMETOOLONG
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG if too_long else HTTPStatus.NOT_FOUND)
            return None
        if not inside:
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        return path

    def inside(self, path: Path) -> bool:
        """Whether path, symlinks followed, is in the served folder."""
        return path.resolve().is_relative_to(Path(self.directory).resolve())

    def send_error(self, code, message=None, explain=None):
        page = Path(self.directory) / "404.html"
        if code != 404 or not (page.is_file() and self.inside(page)):
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path, *, gzip: bool = False) -> Iterator[str]:
    """Serve folder on a free port of 127.0.0.1 until the block ends; yields the address."""
    handler = functools.partial(
        type("FolderHandler", (Handler,), {"use_gzip": gzip}), directory=str(folder)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
