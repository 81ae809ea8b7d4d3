"""Who is looking at a page, and proof that a form came from kb's own page.

A signed-in person's bearer token travels in a cookie that scripts cannot read (HttpOnly), that other sites'
forms do not send (SameSite=Lax), and that is sent over https alone when the portal is served over https
(Secure). In `local` auth a loopback caller needs no sign-in, by the API's own rule (`api.deps.is_local`).

Every form carries a CSRF token: an HMAC, under a secret kept in the data folder, of the session it belongs to,
so that a page of another site cannot post on someone's behalf, and a token from one session is worthless in
another. The sign-in form, before any session, uses a random cookie it must match (double submit)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request

from api.deps import is_local, token_principal
from api.limits import Limits
from kb.access import LOCAL_ADMIN, Principal
from kb.errors import Forbidden, Unauthorized
from kb.service import KnowledgeBase

SESSION_COOKIE = "kb_session"
SIGNIN_COOKIE = "kb_signin"
LANGUAGE_COOKIE = "kb_lang"
SECRET_FILE = "web-secret"


def load_secret(data_dir: Path) -> bytes:
    """The portal's signing secret, made once per data folder (mode 600): every server of one deployment that
    shares the folder agrees on it, and a restart does not invalidate open forms."""
    path = data_dir / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f".{SECRET_FILE}.{secrets.token_hex(4)}"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32))
    try:
        os.link(staging, path)  # the first server to write it wins; the others read the winner's
    except FileExistsError:
        pass
    finally:
        staging.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


@dataclasses.dataclass(frozen=True)
class PageSession:
    reader: Principal
    key: str  # what the CSRF token is bound to: the session cookie, or "local" for the loopback admin

    def csrf(self, secret: bytes) -> str:
        return csrf_token(secret, self.key)


def csrf_token(secret: bytes, key: str) -> str:
    return hmac.new(secret, f"csrf:{key}".encode(), hashlib.sha256).hexdigest()


def page_session(request: Request, kb: KnowledgeBase) -> PageSession | None:
    """The signed-in reader (None: the page asks them to sign in)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            return PageSession(authenticate(request, kb, token), hashlib.sha256(token.encode()).hexdigest())
        except Unauthorized:
            return None
    if is_local(request, kb.settings):
        return PageSession(dataclasses.replace(LOCAL_ADMIN, origin=client_of(request)), "local")
    return None


def authenticate(request: Request, kb: KnowledgeBase, token: str) -> Principal:
    """The token's user, held to the API's limits: an address that fails too often is refused before any lookup
    (so the sign-in form is no faster way to guess tokens than the API), and a user's requests are counted."""
    limits: Limits = request.app.state.limits
    client = client_of(request)
    limits.begin_authentication(client)
    return token_principal(kb, limits, token, client)


def redeem(request: Request, kb: KnowledgeBase, code: str) -> str:
    """An e-mailed sign-in code exchanged for a token, under the same failed-authentication limit."""
    limits: Limits = request.app.state.limits
    client = client_of(request)
    limits.begin_authentication(client)
    token = kb.users.redeem(code, client)
    limits.authenticated(client)
    return token


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def check_form(request: Request, secret: bytes, key: str, sent: str | None) -> None:
    """Refuse a form posted from another site (its Origin) or without this session's CSRF token."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden("this form was sent from another site", field="origin")
    if not sent or not hmac.compare_digest(sent, csrf_token(secret, key)):
        raise Forbidden("the form has expired or did not come from kb: reload the page and send it again", field="csrf")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never `//host` or `https://elsewhere`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target
