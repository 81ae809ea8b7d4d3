"""The agents' pages: the queue, working a ticket (replies, internal notes, resolving), turning it into an article
in a Markdown editor with a preview, and the review queue with its diff and the publish button.

The same `kb` services decide what an agent may see and do as for the JSON API: a page only shows what the
service returned and forwards what the form sent."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from api.deps import KB, ModelThread
from api.preconditions import entity_tags
from api.web.pages import Session, posted, render
from kb.access import can_work_ticket, can_work_tickets
from kb.articles.model import StoredArticle
from kb.articles.rendering import preview_html
from kb.errors import Forbidden, NotFound
from kb.tickets import TicketChange, TicketQuery
from kb.tickets.model import MAX_MESSAGE

router = APIRouter(prefix="/agent", include_in_schema=False)
SLA_STATES = ("on_track", "at_risk", "breached")


def _agent(session: Session) -> None:
    if not can_work_tickets(session.reader):
        raise Forbidden("these pages are for the support teams' agents")


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    kb: KB,
    session: Session,
    status: Annotated[str, Query(max_length=20)] = "",
    sla: Annotated[str, Query(max_length=20)] = "",
    mine: bool = False,
) -> Response:
    _agent(session)
    query = TicketQuery(
        scope="team",
        status=status or None,
        sla=sla or None,
        assignee=session.reader.name if mine else None,
        per_page=100,
    )
    items, total = kb.tickets.find(session.reader, query)
    return render(
        request,
        "agent_queue.html",
        session,
        tickets=items,
        total=total,
        state_filter=status,
        sla=sla,
        mine=mine,
        sla_states=SLA_STATES,
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def ticket(request: Request, kb: KB, session: Session, model_thread: ModelThread, ticket_id: int) -> Response:
    _agent(session)
    view = await run_in_threadpool(kb.tickets.get, ticket_id, session.reader)  # the store, off the event loop
    similar = await model_thread.run(kb.tickets.similar, ticket_id, session.reader)
    return render(request, "agent_ticket.html", session, ticket=view, similar=similar)


@router.post("/tickets/{ticket_id}/{action}")
def work_ticket(
    request: Request,
    kb: KB,
    session: Session,
    ticket_id: int,
    action: str,
    csrf: Annotated[str | None, Form()] = None,
    body: Annotated[str, Form(max_length=MAX_MESSAGE)] = "",
) -> Response:
    """assign (to me), reply, note, resolve (with `body` as the resolution) or draft (an article from it)."""
    posted(request, session, csrf)
    _agent(session)
    reader, text = session.reader, body.strip()
    if action == "assign":
        kb.tickets.update(ticket_id, TicketChange(assignee=reader.name), reader)
    elif action in ("reply", "note") and text:
        if action == "reply":
            kb.tickets.reply(ticket_id, text, reader, None)
        else:
            kb.tickets.note(ticket_id, text, reader)
    elif action == "resolve":
        kb.tickets.update(ticket_id, TicketChange(status="resolved", resolution=text or None), reader)
    elif action == "draft":
        saved = kb.tickets.draft(ticket_id, reader)
        return RedirectResponse(f"/agent/articles/{quote(saved.article.id)}/edit", status_code=303)
    else:
        raise NotFound(f"no such action: {action}", field="action")
    return RedirectResponse(f"/agent/tickets/{ticket_id}", status_code=303)


@router.get("/articles/{article_id}/edit", response_class=HTMLResponse)
def edit_article(request: Request, kb: KB, session: Session, article_id: str) -> Response:
    saved = kb.publishing.newest(article_id, session.reader)
    return _editor(request, session, saved.article, saved.markdown)


def _editor(request: Request, session: Session, article: StoredArticle, markdown: str, status: int = 200) -> Response:
    return render(
        request,
        "agent_article.html",
        session,
        status,
        article=article,
        markdown=markdown,
        preview=Markup(preview_html(markdown)),
    )


@router.post("/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    session: Session,
    markdown: Annotated[str, Form(max_length=200_000)],
    csrf: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """The editor's live preview (kb.js): the same sanitised HTML as the published article will show."""
    posted(request, session, csrf)
    return HTMLResponse(preview_html(markdown), headers={"Cache-Control": "no-store"})


@router.post("/articles/{article_id}/edit")
def save_article(
    request: Request,
    kb: KB,
    session: Session,
    article_id: str,
    etag: Annotated[str, Form(max_length=300)],
    markdown: Annotated[str, Form(max_length=200_000)],
    action: Annotated[str, Form(max_length=20)] = "preview",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """preview (nothing is saved), save (a new version), or submit (save, then send it to review)."""
    posted(request, session, csrf)
    current = kb.publishing.newest(article_id, session.reader).article
    if action == "preview":
        return _editor(request, session, current, markdown)
    saved = kb.publishing.update(article_id, markdown, session.reader, entity_tags(etag) or frozenset())
    if action == "submit":
        kb.publishing.transition(article_id, "review", session.reader, frozenset({saved.article.etag}))
        return RedirectResponse("/agent/review", status_code=303)
    return RedirectResponse(f"/agent/articles/{quote(article_id)}/edit", status_code=303)


@router.get("/review", response_class=HTMLResponse)
def review(request: Request, kb: KB, session: Session) -> Response:
    _agent(session)
    items = []
    for article in kb.publishing.queue("review", session.reader):
        old = article.published_version or max(article.version - 1, 0)
        diff = kb.publishing.diff(article.id, old, article.version, session.reader) if old else ""
        items.append((article, diff))
    reader = session.reader
    teams = [t.name for t in kb.teams.directory if can_work_ticket(reader, t.name)]
    attention = [kb.insights.attention(team, reader) for team in teams]
    return render(request, "agent_review.html", session, items=items, attention=attention)


@router.post("/articles/{article_id}/publish")
def publish(
    request: Request,
    kb: KB,
    session: Session,
    article_id: str,
    etag: Annotated[str, Form(max_length=300)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    posted(request, session, csrf)
    kb.publishing.transition(article_id, "published", session.reader, entity_tags(etag) or frozenset())
    return RedirectResponse(f"/articles/{quote(article_id)}", status_code=303)
