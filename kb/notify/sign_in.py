"""Sign-in links by e-mail: a person who has no token at hand asks for a link, which signs them in once.

Offered only when kb can send e-mail and knows the address people reach it by (KB_PUBLIC_URL): the link is never
built from a request's Host header, which whoever sends the request chooses."""

from __future__ import annotations

from urllib.parse import urlencode

from kb.notify.email import EmailNotifier, plain_message
from kb.settings import Settings
from kb.users import SIGN_IN_LINK_MINUTES, UserService


class SignInLinks:
    def __init__(self, settings: Settings, users: UserService, email: EmailNotifier | None) -> None:
        self._public_url = (settings.public_url or "").rstrip("/")
        self._users = users
        self._email = email

    @property
    def available(self) -> bool:
        return self._email is not None and bool(self._public_url)

    def send(self, address: str, next_path: str = "/", origin: str = "") -> None:
        """E-mail a sign-in link to the user with this address, if there is one (the caller answers the same
        either way: whether someone has an account is not the form's to tell)."""
        if self._email is None or not self._public_url:
            return
        issued = self._users.sign_in_code(address, origin)
        if issued is None:
            return
        user, code = issued
        link = f"{self._public_url}/signin/link?{urlencode({'code': code, 'next': next_path})}"
        body = (
            f"Hello {user.name},\n\nOpen this link to sign in to kb (it works once, for "
            f"{SIGN_IN_LINK_MINUTES} minutes):\n\n{link}\n\nIf you did not ask for it, ignore this e-mail.\n"
        )
        message = plain_message(self._email.config.sender, user.email, "Your kb sign-in link", body)
        self._email.enqueue(message)
