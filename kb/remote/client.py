"""The HTTP side of `kb remote`: requests to a kb server that survive a poor connection.

Connection failures, timeouts, a server that goes away in the middle of an answer, 429 and 5xx are retried with
exponential backoff (and the server's Retry-After), then reported as one `RemoteUnavailable`; a 4xx is the
server's answer and is reported at once as `RemoteRefused`, with the problem's detail and field. A download
resumes where it broke off (Range + If-Range), across retries and across runs."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kb import __version__
from kb.errors import RemoteRefused, RemoteUnavailable

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    first_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt `attempt + 1`: the server's Retry-After when it sent one (capped), else
        exponential with jitter, so that many clients coming back online do not retry in step."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        return float(min(self.max_delay, self.first_delay * 2**attempt) * random.uniform(0.5, 1.0))


ONCE = Retry(attempts=1)


@dataclass(frozen=True)
class Download:
    path: Path
    etag: str | None
    size: int
    resumed_from: int


class RemoteClient:
    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        retry: Retry | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"User-Agent": f"kb-remote/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.url = url
        self._retry = retry or Retry()
        self._sleep = sleep
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        retry: Retry | None = None,
        timeout: float | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The server's answer (any status below 400; a 304 included). A request is sent again only when the
        failure leaves it safe to: every request kb remote sends is a read or carries an idempotency key."""
        retry = retry or self._retry
        reason = ""
        for attempt in range(retry.attempts):
            retry_after: float | None = None
            try:
                response = self._http.request(
                    method,
                    path,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                reason = _transport_reason(exc)
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise _refused(response)
                reason = f"the server answered {response.status_code} ({_detail(response)})"
                retry_after = _seconds(response.headers.get("retry-after"))
            if attempt + 1 < retry.attempts:
                pause = retry.delay(attempt, retry_after)
                log.info("%s %s: %s; again in %.1fs", method, path, reason, pause)
                self._sleep(pause)
        tries = f" (tried {retry.attempts} times)" if retry.attempts > 1 else ""
        raise RemoteUnavailable(f"{self.url}: {reason}{tries}")

    def get_json(self, path: str, **kwargs: Any) -> Any:
        response = self.request("GET", path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise RemoteUnavailable(f"{self.url}{path}: the answer is not JSON ({exc})") from exc

    def download(self, path: str, target: Path, *, on_progress: Callable[[int, int], None] | None = None) -> Download:
        """Fetch `path` into `target` + ".part", resuming what an earlier attempt or run left there when the
        server still has the same bytes (If-Range with their ETag); `target` appears only when it is complete.
        `on_progress(done, total)` follows the bytes."""
        part, tag_file = target.with_name(target.name + ".part"), target.with_name(target.name + ".etag")
        reason = ""
        for attempt in range(self._retry.attempts):
            have = part.stat().st_size if part.exists() else 0
            etag = tag_file.read_text(encoding="utf-8").strip() if tag_file.exists() else None
            headers = {"Range": f"bytes={have}-", "If-Range": etag} if have and etag else {}
            try:
                with self._http.stream("GET", path, headers=headers) as response:
                    if response.status_code == 416:  # the part is stale or whole: start again
                        part.unlink(missing_ok=True)
                        reason = "the partial download no longer matches the server's"
                        continue
                    if response.status_code >= 400:
                        response.read()
                        if response.status_code not in RETRY_STATUSES:
                            raise _refused(response)
                        raise httpx.RemoteProtocolError(f"the server answered {response.status_code}")
                    resumed = have if response.status_code == 206 else 0
                    total = resumed + int(response.headers.get("content-length", "0"))
                    new_tag = response.headers.get("etag")
                    if new_tag:
                        _write_small(tag_file, new_tag)
                    with part.open("ab" if resumed else "wb") as out:
                        done = resumed
                        for chunk in response.iter_bytes():
                            out.write(chunk)
                            done += len(chunk)
                            if on_progress is not None:
                                on_progress(done, total)
                        out.flush()
                        os.fsync(out.fileno())
                if part.stat().st_size != total:
                    raise httpx.RemoteProtocolError(f"{part.stat().st_size} of {total} bytes arrived")
                os.replace(part, target)
                tag_file.unlink(missing_ok=True)
                return Download(target, new_tag, total, resumed)
            except httpx.TransportError as exc:
                reason = _transport_reason(exc)
            if attempt + 1 < self._retry.attempts:
                self._sleep(self._retry.delay(attempt, None))
        kept = part.stat().st_size if part.exists() else 0
        resume = f"; {kept} bytes kept, the next sync resumes there" if kept else ""
        raise RemoteUnavailable(f"{self.url}{path}: {reason}{resume}")


def _write_small(path: Path, text: str) -> None:
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})" if str(exc) else "cannot connect"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return f"the connection broke off ({exc})" if str(exc) else "the connection broke off"
    return f"{type(exc).__name__}: {exc}"


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or str(response.status_code)
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or response.reason_phrase)
    return response.reason_phrase


def _refused(response: httpx.Response) -> RemoteRefused:
    field = None
    try:
        body = response.json()
        field = body.get("field") if isinstance(body, dict) else None
    except ValueError:
        pass
    return RemoteRefused(
        f"the server refused it ({response.status_code}): {_detail(response)}",
        status=response.status_code,
        field=field,
    )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
