"""--download against a real local HTTP server: deadline, size cap, truncation, no .part left behind."""

import hashlib
import io
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from catalog import importer
from catalog.importer import DownloadError, download_ml_small


def make_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("ml-latest-small/movies.csv", "movieId,title,genres\n1,A (1999),Drama\n")
    return buffer.getvalue()


GOOD = make_zip()
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        try:
            if self.path == "/good.zip":
                self._head(len(GOOD))
                self.wfile.write(GOOD)
            elif self.path == "/short.zip":  # promises more than it sends, then closes
                self._head(100_000)
                self.wfile.write(b"x" * 1000)
            elif self.path == "/trickle.zip":  # one byte every 0.2 s, for up to a minute
                self._head(None)
                for _ in range(300):
                    self.wfile.write(b"P")
                    self.wfile.flush()
                    time.sleep(0.2)
            elif self.path == "/endless.zip":  # never ends the body (stops itself at 64 MB)
                self._head(None)
                for _ in range(1024):
                    self.wfile.write(b"\0" * 65536)
        except OSError:
            pass  # the client hung up: what the tests want

    def _head(self, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def no_part_file(dest: Path) -> bool:
    return not list(dest.glob("*.part"))


def test_download_checks_and_unpacks(server, tmp_path):
    folder = download_ml_small(tmp_path, url=f"{server}/good.zip", sha256=GOOD_SHA)
    assert (folder / "movies.csv").is_file()


def test_slow_server_hits_the_deadline(server, tmp_path):
    started = time.monotonic()
    with pytest.raises(DownloadError, match="took longer than 1 s"):
        download_ml_small(tmp_path, url=f"{server}/trickle.zip", sha256=GOOD_SHA, deadline=1)
    assert time.monotonic() - started < 10
    assert no_part_file(tmp_path)


def test_endless_stream_is_capped(server, tmp_path):
    with pytest.raises(DownloadError, match="sent more than 1,048,576 bytes"):
        download_ml_small(tmp_path, url=f"{server}/endless.zip", sha256=GOOD_SHA, max_bytes=1 << 20)
    assert no_part_file(tmp_path)


def test_truncated_transfer_is_an_incomplete_download(server, tmp_path):
    with pytest.raises(DownloadError, match="incomplete download .*got 1,000 of 100,000 bytes"):
        download_ml_small(tmp_path, url=f"{server}/short.zip", sha256=GOOD_SHA)
    assert no_part_file(tmp_path)


def test_interrupted_download_leaves_no_part_file(server, tmp_path, monkeypatch):
    def interrupt(path: Path) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(importer, "_sha256", interrupt)
    with pytest.raises(KeyboardInterrupt):
        download_ml_small(tmp_path, url=f"{server}/good.zip", sha256=GOOD_SHA)
    assert no_part_file(tmp_path)
