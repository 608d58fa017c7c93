"""tools/static_server.py: names the file system refuses get a 4xx and no
traceback, and nothing whose real path is outside the served folder goes out."""

from __future__ import annotations

import gzip
import http.client
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "tools"))
from static_server import serve

SECRET = b"SECRET from outside the served folder"


def get(url: str, path: str) -> tuple[int, bytes]:
    """GET path raw (http.client sends it as given: NUL escapes and all), with gzip asked."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        body = response.read()
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return response.status, body
    finally:
        connection.close()


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """site/ to serve, with symlinks into outside/ next to it; returns site/."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "secret.html").write_bytes(SECRET)
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "page.txt").write_text("inside\n")
    (site / "same.txt").symlink_to("page.txt")
    (site / "secret.txt").symlink_to(outside / "secret.txt")
    (site / "outdir").symlink_to(outside, target_is_directory=True)
    (site / "sub" / "index.html").symlink_to(outside / "secret.html")
    (site / "404.html").symlink_to(outside / "secret.html")
    return site


REFUSED = {
    "NUL byte": "/page%00.txt",
    "NUL byte alone": "/%00",
    "lone surrogate": "/%ed%a0%80",
    "name over NAME_MAX": "/" + "a" * 300,
    "path over PATH_MAX": "/" + "/".join(["b" * 200] * 30),
}


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("path", REFUSED.values(), ids=REFUSED.keys())
def test_refused_name_gets_4xx_without_traceback(folders, capsys, use_gzip, path):
    with serve(folders, gzip=use_gzip) as url:
        status, _ = get(url, path)
        assert get(url, "/page.txt") == (200, b"inside\n")
    assert 400 <= status < 500
    assert "Traceback" not in capsys.readouterr().err


OUT = {
    "file symlink": "/secret.txt",
    "folder symlink": "/outdir/secret.txt",
    "index page symlink": "/sub/",
    "dot dot": "/..%2foutside%2fsecret.txt",
}


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("path", OUT.values(), ids=OUT.keys())
def test_nothing_from_outside_the_folder(folders, use_gzip, path):
    # 404.html links out too: the 404 answer must not carry it either.
    with serve(folders, gzip=use_gzip) as url:
        status, body = get(url, path)
    assert status == 404
    assert SECRET not in body


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
def test_symlinks_inside_the_folder_are_served(folders, use_gzip):
    link = folders.parent / "link-to-site"
    link.symlink_to(folders, target_is_directory=True)
    with serve(link, gzip=use_gzip) as url:
        assert get(url, "/page.txt") == (200, b"inside\n")
        assert get(url, "/same.txt") == (200, b"inside\n")
