"""The server a `kb remote` user signed in to, and their token: one file, readable by its owner alone."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kb.errors import ConfigurationError, InvalidInput

CONFIG = "remote.json"


@dataclass(frozen=True)
class RemoteConfig:
    url: str
    token: str | None

    @property
    def copy_name(self) -> str:
        """The local copy's folder: one per server, named so that a person can tell which is which."""
        parts = urlsplit(self.url)
        readable = "".join(c if c.isalnum() or c in ".-" else "-" for c in (parts.netloc or "server"))
        return f"{readable}-{hashlib.sha256(self.url.encode()).hexdigest()[:8]}"


def server_url(url: str) -> str:
    """`url` as the client sends requests to it: http(s), a host, no trailing slash, no query."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"not a server address: {url!r} (write it as https://kb.example.com)", field="url")
    if parts.query or parts.fragment:
        raise InvalidInput(f"a server address has no query or fragment: {url!r}", field="url")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def private_folder(path: Path) -> Path:
    """`path`, created if need be and readable by its owner alone (it holds a token and articles with audiences)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def save_config(home: Path, config: RemoteConfig) -> Path:
    """Write the config atomically, mode 600 from the moment it exists (never readable by others, even briefly)."""
    private_folder(home)
    target = home / CONFIG
    staging = home / f".{CONFIG}.{uuid.uuid4().hex}"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"url": config.url, "token": config.token}, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    return target


def load_config(home: Path) -> RemoteConfig:
    path = home / CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RemoteConfig(url=server_url(str(data["url"])), token=data.get("token") or None)
    except FileNotFoundError:
        raise ConfigurationError(
            "no server yet: run `kb remote login URL --token TOKEN` first", field="remote_home"
        ) from None
    except (ValueError, KeyError, TypeError, InvalidInput) as exc:
        raise ConfigurationError(
            f"{path} is damaged ({exc}): run `kb remote login URL --token TOKEN` again", field="remote_home"
        ) from exc
