"""The remote client against a small real HTTP server that misbehaves on purpose: 5xx and 429 retried, 4xx
reported at once with the field, a download cut off mid-body resumed with Range and If-Range."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from kb.errors import RemoteRefused, RemoteUnavailable
from kb.remote.client import RemoteClient, Retry

pytestmark = pytest.mark.both_stores

CONTENT = bytes(range(256)) * 400  # 100 kB
ETAG = '"v1"'


class Misbehaving(BaseHTTPRequestHandler):
    """Answers by path; `plan` holds the statuses still to give before a good answer."""

    plan: ClassVar[list[int]] = []
    cut_once: ClassVar[list[bool]] = [True]
    seen: ClassVar[list[dict[str, str]]] = []

    def log_message(self, *_: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        if self.path.startswith("/flaky"):
            status = self.plan.pop(0) if self.plan else 200
            self._json(status, {"ok": True} if status == 200 else {"detail": "busy"}, {"Retry-After": "0"})
        elif self.path.startswith("/missing"):
            self._json(404, {"title": "Not found", "detail": "no article 'x'", "field": "article_id"}, {})
        elif self.path.startswith("/file"):
            self._file()

    def _json(self, status: int, body: dict[str, object], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _file(self) -> None:
        start = 0
        if self.headers.get("Range") and self.headers.get("If-Range") == ETAG:
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(CONTENT) - 1}/{len(CONTENT)}")
        else:
            self.send_response(200)
        self.send_header("ETag", ETAG)
        self.send_header("Content-Length", str(len(CONTENT) - start))
        self.end_headers()
        if self.cut_once and self.cut_once.pop():
            self.wfile.write(CONTENT[start : start + 30_000])  # then the connection drops mid-body
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(CONTENT[start:])


@pytest.fixture
def server() -> Iterator[str]:
    Misbehaving.plan, Misbehaving.cut_once, Misbehaving.seen = [], [True], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _client(base: str, attempts: int = 4) -> RemoteClient:
    return RemoteClient(base, "token", timeout=5, retry=Retry(attempts=attempts), sleep=lambda _: None)


def test_busy_and_failing_answers_are_retried_then_reported_in_one_line(server: str) -> None:
    Misbehaving.plan = [503, 429, 502]
    with _client(server) as client:
        assert client.get_json("/flaky") == {"ok": True}
    Misbehaving.plan = [500] * 10
    with _client(server) as client, pytest.raises(RemoteUnavailable) as failed:
        client.get_json("/flaky")
    assert "500 (busy)" in failed.value.detail and "tried 4 times" in failed.value.detail
    assert Misbehaving.seen[-1]["Authorization"] == "Bearer token"


def test_a_refusal_is_reported_at_once_with_its_field(server: str) -> None:
    with _client(server) as client, pytest.raises(RemoteRefused) as refused:
        client.get_json("/missing")
    assert refused.value.status == 404 and refused.value.field == "article_id"
    assert "no article 'x'" in refused.value.detail
    assert len(Misbehaving.seen) == 1  # not retried


def test_a_download_cut_off_mid_body_resumes_where_it_stopped(server: str, tmp_path: Path) -> None:
    target = tmp_path / "bundle.tar.gz"
    with _client(server) as client:
        done = client.download("/file", target)
    assert target.read_bytes() == CONTENT and done.resumed_from == 30_000
    assert Misbehaving.seen[-1]["Range"] == "bytes=30000-" and Misbehaving.seen[-1]["If-Range"] == ETAG
    assert not target.with_name("bundle.tar.gz.part").exists()


def test_a_download_that_keeps_failing_keeps_its_part_for_the_next_run(server: str, tmp_path: Path) -> None:
    target = tmp_path / "bundle.tar.gz"
    Misbehaving.cut_once = [True]
    with _client(server, attempts=1) as client, pytest.raises(RemoteUnavailable) as failed:
        client.download("/file", target)
    assert "30000 bytes kept" in failed.value.detail and not target.exists()
    with _client(server) as client:  # the next run
        assert client.download("/file", target).resumed_from == 30_000
    assert target.read_bytes() == CONTENT


def test_an_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    with _client("http://127.0.0.1:9", attempts=2) as client, pytest.raises(RemoteUnavailable) as failed:
        client.get_json("/v1/sync")
    detail = failed.value.detail
    assert detail.startswith("http://127.0.0.1:9: cannot connect") and "tried 2 times" in detail
