"""The portal's pages: as thin as the JSON API's routes, over the same `kb` services and permission checks.

Every page works with JavaScript off; `static/kb.js` only adds as-you-type suggestions and the editor's live
preview."""

from __future__ import annotations

import secrets
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from api.deps import KB, ModelThread, get_kb
from api.web import i18n
from api.web.session import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    PageSession,
    authenticate,
    check_form,
    client_of,
    page_session,
    redeem,
    safe_next,
)
from kb.access import can_work_tickets
from kb.articles.rendering import render_html
from kb.errors import Unauthorized
from kb.search.searcher import SearchHit
from kb.search.snippets import marked_words
from kb.service import KnowledgeBase
from kb.teams import PRIORITIES
from kb.tickets import NewTicket, TicketQuery
from kb.tickets.model import MAX_DESCRIPTION, MAX_SUBJECT

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Only kb's own scripts, styles and images; no inline script; forms post to kb alone; never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "private, no-store",
}

environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
)
router = APIRouter(include_in_schema=False)


def locale_of(request: Request) -> str:
    """`?lang=` (remembered in a cookie), else the cookie, else the browser's Accept-Language."""
    asked = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if asked and (found := i18n.match(asked)) is not None:
        return found
    return i18n.negotiate(request.headers.get("accept-language", ""))


def render(request: Request, name: str, session: PageSession | None, status: int = 200, **context: Any) -> Response:
    locale = locale_of(request)
    words = i18n.translations(locale)
    secret: bytes = request.app.state.web_secret
    html = environment.get_template(name).render(
        _=words.gettext,
        when=partial(i18n.when, locale=locale),
        lang=i18n.html_lang(locale),
        session=session,
        works_tickets=session is not None and can_work_tickets(session.reader),  # the agents' pages in the menu
        csrf=session.csrf(secret) if session else "",
        path=request.url.path,
        language_links=[
            (code, i18n.display_name(code), f"{request.url.path}?{urlencode({**request.query_params, 'lang': code})}")
            for code in i18n.LOCALES
        ],
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.query_params.get("lang") and i18n.match(request.query_params["lang"]):
        response.set_cookie(LANGUAGE_COOKIE, locale, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def signed_in(request: Request, kb: Annotated[KnowledgeBase, Depends(get_kb)]) -> PageSession:
    session = page_session(request, kb)
    if session is None:
        raise Unauthorized("sign in first", field="session")
    return session


Session = Annotated[PageSession, Depends(signed_in)]


def posted(request: Request, session: PageSession, csrf: str | None) -> None:
    check_form(request, request.app.state.web_secret, session.key, csrf)


# Search -------------------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    kb: KB,
    session: Session,
    model_thread: ModelThread,
    background: BackgroundTasks,
    q: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    question = q.strip()
    if not question:
        return render(request, "search.html", session, outcome=None, q="")
    started = time.perf_counter()
    outcome = await model_thread.run(kb.search.find, question, 10, reader=session.reader, record=False)
    # The search log after the page is sent, as for the API: its flush is not the reader's wait.
    background.add_task(kb.search.record, outcome, (time.perf_counter() - started) * 1000, session.reader.name)
    hits = [(hit, highlight(hit)) for hit in outcome.hits]
    return render(request, "search.html", session, outcome=outcome, hits=hits, q=question, words=confidence_words)


@router.get("/suggest")
async def suggest(
    kb: KB, session: Session, model_thread: ModelThread, q: Annotated[str, Query(max_length=1000)] = ""
) -> list[dict[str, str]]:
    """Titles for the as-you-type list (JSON for `kb.js`; the search page itself needs none of it)."""
    if len(q.strip()) < 3:
        return []
    outcome = await model_thread.run(kb.search.find, q, 5, reader=session.reader, record=False)
    return [{"title": h.title, "url": f"/articles/{quote(h.article_id)}"} for h in outcome.hits]


def confidence_words(confidence: float, answered: bool) -> str:
    """The confidence as a person would say it (the translated phrase is chosen in the template)."""
    if not answered:
        return "low"
    return "high" if confidence >= 0.8 else "medium"


def highlight(hit: SearchHit) -> Markup:
    """The passage, escaped, with the words that matched the query marked."""
    return Markup("").join(
        Markup("<mark>{}</mark>").format(token) if marked else escape(token)
        for token, marked in marked_words(hit.snippet, hit.matched_terms, hit.language)
    )


# Articles -------------------------------------------------------------------------------------------------------
@router.get("/articles/{article_id}", response_class=HTMLResponse)
async def article_page(
    request: Request,
    kb: KB,
    session: Session,
    model_thread: ModelThread,
    background: BackgroundTasks,
    article_id: str,
    q: str = "",
) -> Response:
    # The store is read off the event loop, as the API's sync routes are; the view is counted after the page.
    article = await run_in_threadpool(kb.publishing.get, article_id, session.reader)
    if article.published:
        background.add_task(kb.articles.record_view, article_id, session.reader)
    related = await model_thread.run(kb.articles.related, article_id, 5, session.reader)
    owner = article.team if article.team and kb.teams.directory.get(article.team) else None
    team = await run_in_threadpool(kb.teams.status, owner) if owner else None
    return render(
        request,
        "article.html",
        session,
        article=article,
        html=Markup(render_html(article.body)),
        team=team,
        related=related,
        q=q,
        voted=request.query_params.get("voted"),
    )


@router.post("/articles/{article_id}/feedback")
def article_feedback(
    request: Request,
    kb: KB,
    session: Session,
    article_id: str,
    helpful: Annotated[str, Form()],
    csrf: Annotated[str | None, Form()] = None,
    q: Annotated[str, Form(max_length=1000)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    posted(request, session, csrf)
    useful = helpful == "yes"
    kb.articles.feedback(article_id, useful, session.reader, q or None, comment.strip() or None)
    if useful:
        return RedirectResponse(f"/articles/{quote(article_id)}?voted=yes", status_code=303)
    # "No": the ticket form, carrying the question and the article that did not help.
    target = f"/tickets/new?q={quote(q)}&not_helpful={quote(article_id)}"
    return RedirectResponse(target, status_code=303)


# Tickets --------------------------------------------------------------------------------------------------------
@router.get("/tickets/new", response_class=HTMLResponse)
async def new_ticket_page(
    request: Request,
    kb: KB,
    session: Session,
    model_thread: ModelThread,
    q: Annotated[str, Query(max_length=1000)] = "",
    team: Annotated[str, Query(max_length=100)] = "",
    not_helpful: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    suggested = team or (await model_thread.run(kb.search.route, q) if q.strip() else kb.settings.default_team)
    return render(
        request,
        "ticket_new.html",
        session,
        q=q,
        subject=q[:MAX_SUBJECT],
        team=suggested,
        not_helpful=not_helpful,
        teams=await run_in_threadpool(kb.teams.first_answers),
        priorities=PRIORITIES,
        max_subject=MAX_SUBJECT,
        max_description=MAX_DESCRIPTION,
        form_key=secrets.token_urlsafe(16),  # sent as the idempotency key: a form sent twice makes one ticket
    )


@router.post("/tickets/new")
def create_ticket(
    request: Request,
    kb: KB,
    session: Session,
    subject: Annotated[str, Form(max_length=MAX_SUBJECT)],
    description: Annotated[str, Form(max_length=MAX_DESCRIPTION)],
    team: Annotated[str, Form(max_length=100)] = "",
    priority: Annotated[str, Form(max_length=20)] = "normal",
    q: Annotated[str, Form(max_length=1000)] = "",
    not_helpful: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idempotency: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    posted(request, session, csrf)
    ticket, _ = kb.tickets.create(
        NewTicket(
            subject=subject.strip(),
            description=description.strip(),
            requester=session.reader.name,
            team=team or None,
            priority=priority,
            search_query=q or None,
            not_helpful_article_ids=[not_helpful] if not_helpful else [],
        ),
        idempotency or None,
        session.reader,
    )
    return RedirectResponse(f"/tickets/{ticket['id']}?created=1", status_code=303)


@router.get("/tickets", response_class=HTMLResponse)
def my_tickets(request: Request, kb: KB, session: Session) -> Response:
    items, total = kb.tickets.find(session.reader, TicketQuery(scope="mine", per_page=100))
    return render(request, "tickets.html", session, tickets=items, total=total)


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(request: Request, kb: KB, session: Session, ticket_id: int) -> Response:
    ticket = kb.tickets.get(ticket_id, session.reader)
    return render(request, "ticket.html", session, ticket=ticket, created=request.query_params.get("created"))


@router.post("/tickets/{ticket_id}/replies")
def reply(
    request: Request,
    kb: KB,
    session: Session,
    ticket_id: int,
    body: Annotated[str, Form(min_length=1, max_length=MAX_DESCRIPTION)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    posted(request, session, csrf)
    kb.tickets.reply(ticket_id, body, session.reader, None)
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@router.post("/tickets/{ticket_id}/satisfaction")
def rate(
    request: Request,
    kb: KB,
    session: Session,
    ticket_id: int,
    score: Annotated[int, Form(ge=1, le=5)],
    comment: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    posted(request, session, csrf)
    kb.tickets.rate(ticket_id, score, comment.strip() or None, session.reader)
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


# Teams ----------------------------------------------------------------------------------------------------------
@router.get("/teams", response_class=HTMLResponse)
def teams_page(request: Request, kb: KB, session: Session) -> Response:
    return render(request, "teams.html", session, statuses=kb.teams.statuses())


@router.get("/teams/{name}", response_class=HTMLResponse)
def team_page(request: Request, kb: KB, session: Session, name: str) -> Response:
    return render(request, "team.html", session, view=kb.teams.status(name))


# Signing in -----------------------------------------------------------------------------------------------------
@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, kb: KB, next: str = "/") -> Response:
    return _signin_form(request, kb, "signin.html", next=safe_next(next), failed=False)


def _signin_form(request: Request, kb: KnowledgeBase, template: str, status: int = 200, **context: Any) -> Response:
    """A sign-in form with a fresh nonce, also in a cookie it must match when sent back (double submit)."""
    nonce = secrets.token_urlsafe(24)
    response = render(request, template, None, status, nonce=nonce, email_links=kb.sign_in_links.available, **context)
    _set_cookie(request, response, SIGNIN_COOKIE, nonce, max_age=1800)
    return response


def _nonce_ok(request: Request, nonce: str) -> bool:
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    return bool(nonce) and secrets.compare_digest(nonce, cookie)


@router.post("/signin/email", response_class=HTMLResponse)
def email_link(
    request: Request,
    kb: KB,
    email: Annotated[str, Form(max_length=320)],
    nonce: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """E-mail a sign-in link; the answer is the same whether or not the address has an account."""
    if not _nonce_ok(request, nonce):
        return signin_page(request, kb, next)
    kb.sign_in_links.send(email, safe_next(next), client_of(request))
    return render(request, "signin_sent.html", None)


@router.get("/signin/link", response_class=HTMLResponse)
def link_page(request: Request, kb: KB, code: Annotated[str, Query(max_length=200)], next: str = "/") -> Response:
    """A button, not a sign-in: mail scanners open links, and must not spend the one-time code."""
    return _signin_form(request, kb, "signin_link.html", code=code, next=safe_next(next))


@router.post("/signin/link")
def redeem_link(
    request: Request,
    kb: KB,
    code: Annotated[str, Form(max_length=200)],
    nonce: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not _nonce_ok(request, nonce):
        return _signin_form(request, kb, "signin_link.html", code=code, next=safe_next(next))
    return _session_started(request, kb, redeem(request, kb, code), next)


def _session_started(request: Request, kb: KnowledgeBase, token: str, next: str) -> Response:
    """Signed in: the session cookie set, the sign-in nonce dropped, on to where the reader was going."""
    response = RedirectResponse(safe_next(next), status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, max_age=kb.settings.token_days * 86400)
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return response


@router.post("/signin")
def signin(
    request: Request,
    kb: KB,
    token: Annotated[str, Form(max_length=500)],
    nonce: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not _nonce_ok(request, nonce):
        return signin_page(request, kb, next)  # a stale or forged form: show a fresh one
    try:
        authenticate(request, kb, token.strip())
    except Unauthorized:
        return _signin_form(request, kb, "signin.html", 401, next=safe_next(next), failed=True)
    return _session_started(request, kb, token.strip(), next)


@router.post("/signout")
def signout(request: Request, session: Session, csrf: Annotated[str | None, Form()] = None) -> Response:
    posted(request, session, csrf)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    """A domain error on a page, as a page (a signed-out reader is sent to sign in)."""
    if status == 401:
        return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)
    return render(request, "error.html", None, status, title=title, detail=detail)
