"""GET /v1/sync: full and delta syncs, tombstones by who could read what, paging, a bad cursor; GET
/v1/export/bundle: what a reader may read, resumable."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.embedders import Embedder
from kb.service import KnowledgeBase
from tests.conftest import SmallTemplate, add_desk, bearer, desk_settings

pytestmark = pytest.mark.both_stores

SMALL = {"vpn-drops-on-public-wifi", "printer-offline-floor-printer", "request-annual-leave", "badge-not-opening-doors"}


@pytest.fixture
def api(
    tmp_path: Path, small_template: SmallTemplate, embedder: Embedder
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = desk_settings(tmp_path, small_template)
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.indexing.build()
    tokens = add_desk(kb)
    kb.close()
    with TestClient(create_app(settings, embedder=embedder)) as client:
        yield client, tokens


def _sync(client: TestClient, token: str, since: str | None = None, limit: int = 100) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit} | ({"since": since} if since else {})
    response = client.get("/v1/sync", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _publish(
    client: TestClient, tokens: dict[str, str], slug: str, extra: str = "", etag: str | None = None
) -> dict[str, Any]:
    markdown = (
        f"---\nid: {slug}\ntitle: Sync gadget {slug}\nteam: IT\n{extra}---\n\n## Symptoms\n\nIt hums.\n\n"
        "## Resolution\n\nUnplug it.\n"
    )
    if etag is None:
        saved = client.post("/v1/articles", json={"markdown": markdown}, headers=bearer(tokens["ivan"])).json()
    else:
        saved = client.put(
            f"/v1/articles/{slug}", json={"markdown": markdown}, headers=bearer(tokens["ivan"]) | {"If-Match": etag}
        ).json()
    review = client.post(
        f"/v1/articles/{slug}/transitions",
        json={"to": "review"},
        headers=bearer(tokens["ivan"]) | {"If-Match": saved["etag"]},
    ).json()
    published = client.post(
        f"/v1/articles/{slug}/transitions",
        json={"to": "published"},
        headers=bearer(tokens["ines"]) | {"If-Match": review["etag"]},
    )
    assert published.status_code == 200, published.text
    return dict(published.json())


def test_a_full_sync_pages_through_everything_once(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    for number in range(3):
        _publish(client, tokens, f"paged-{number}")
    seen: list[str] = []
    cursor = None
    while True:
        page = _sync(client, tokens["ana"], cursor, limit=2)
        seen += [a["id"] for a in page["articles"]]
        assert page["tombstones"] == []
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    assert sorted(seen) == sorted(SMALL | {f"paged-{n}" for n in range(3)})  # each once
    assert _sync(client, tokens["ana"], cursor) == {
        "articles": [],
        "tombstones": [],
        "cursor": cursor,
        "has_more": False,
    }


def test_a_delta_carries_an_edit_and_a_tombstone_for_an_archived_article(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    first = _publish(client, tokens, "delta")
    cursor = _sync(client, tokens["ana"])["cursor"]
    again = _publish(client, tokens, "delta", extra="tags: [changed]\n", etag=first["etag"])
    delta = _sync(client, tokens["ana"], cursor)
    assert [a["id"] for a in delta["articles"]] == ["delta"] and delta["articles"][0]["tags"] == ["changed"]
    assert "## Resolution" in delta["articles"][0]["markdown"]
    client.post(
        "/v1/articles/delta/transitions",
        json={"to": "archived"},
        headers=bearer(tokens["ines"]) | {"If-Match": again["etag"]},
    )
    gone = _sync(client, tokens["ana"], delta["cursor"])
    assert gone["articles"] == [] and gone["tombstones"] == ["delta"]


def test_an_audience_change_is_a_tombstone_for_those_who_lose_the_article(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    first = _publish(client, tokens, "narrowed")
    cursors = {name: _sync(client, tokens[name])["cursor"] for name in ("ana", "fred")}
    _publish(client, tokens, "narrowed", extra="audience: [finance]\n", etag=first["etag"])
    ana = _sync(client, tokens["ana"], cursors["ana"])
    fred = _sync(client, tokens["fred"], cursors["fred"])
    assert (ana["articles"], ana["tombstones"]) == ([], ["narrowed"])
    assert [a["id"] for a in fred["articles"]] == ["narrowed"] and fred["tombstones"] == []


def test_no_tombstone_names_an_article_the_reader_could_never_read(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    cursor = _sync(client, tokens["ana"])["cursor"]
    secret = _publish(client, tokens, "finance-only", extra="audience: [finance]\n")
    client.post(
        "/v1/articles/finance-only/transitions",
        json={"to": "archived"},
        headers=bearer(tokens["ines"]) | {"If-Match": secret["etag"]},
    )
    delta = _sync(client, tokens["ana"], cursor)
    assert delta["articles"] == [] and delta["tombstones"] == []


def test_a_cursor_the_server_never_gave_is_a_422_naming_since(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    response = client.get("/v1/sync", params={"since": "not-a-cursor"}, headers=bearer(tokens["ana"]))
    assert response.status_code == 422
    assert response.json()["field"] == "since"


def test_repeat_reads_get_304_and_large_bodies_travel_gzipped(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    first = client.get("/v1/articles/vpn-drops-on-public-wifi", headers=bearer(tokens["ana"]))
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "private, no-cache" and "Last-Modified" in first.headers
    assert first.headers["content-encoding"] == "gzip"
    again = client.get(
        "/v1/articles/vpn-drops-on-public-wifi",
        headers=bearer(tokens["ana"]) | {"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304 and again.content == b""
    since = client.get(
        "/v1/articles/vpn-drops-on-public-wifi",
        headers=bearer(tokens["ana"]) | {"If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert since.status_code == 304
    listed = client.get("/v1/articles", headers=bearer(tokens["ana"]))
    assert (
        client.get(
            "/v1/articles", headers=bearer(tokens["ana"]) | {"If-None-Match": listed.headers["ETag"]}
        ).status_code
        == 304
    )
    # A change makes the copy stale.
    _publish(client, tokens, "new-in-list")
    assert (
        client.get(
            "/v1/articles", headers=bearer(tokens["ana"]) | {"If-None-Match": listed.headers["ETag"]}
        ).status_code
        == 200
    )


def _bundle(client: TestClient, token: str, **headers: str) -> Any:
    return client.get("/v1/export/bundle", headers=bearer(token) | headers)


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_a_bundle_holds_what_its_reader_may_read_and_an_index_of_that_alone(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    _publish(client, tokens, "finance-close", extra="audience: [finance]\n")
    ana, fred = _bundle(client, tokens["ana"]), _bundle(client, tokens["fred"])
    assert ana.status_code == fred.status_code == 200
    assert ana.headers["content-type"] == "application/gzip" and ana.headers["accept-ranges"] == "bytes"
    for response, expected in ((ana, SMALL), (fred, SMALL | {"finance-close"})):
        files = _members(response.content)
        manifest = json.loads(files["manifest.json"])
        records = [json.loads(line) for line in files["articles.jsonl"].decode().splitlines()]
        assert {r["id"] for r in records} == expected and manifest["articles"] == len(expected)
        generation = files["index/CURRENT"].decode().strip()
        meta = json.loads(files[f"index/{generation}/meta.json"])
        assert set(meta["docs"]) == expected  # the index knows nothing the reader may not read
        assert "calibration" in meta  # the server's answer calibration travels with it
        # The cursor is where the delta starts: nothing has changed since.
        delta = _sync(client, tokens["ana"], manifest["cursor"])
        assert delta["articles"] == [] and delta["tombstones"] == []
    assert ana.headers["ETag"] != fred.headers["ETag"]


def test_a_bundle_download_resumes_with_range_and_starts_over_when_the_content_changed(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    whole = _bundle(client, tokens["ana"])
    etag = whole.headers["ETag"]
    assert _bundle(client, tokens["ana"]).headers["ETag"] == etag  # the same content: the same archive
    tail = _bundle(client, tokens["ana"], Range="bytes=1000-", **{"If-Range": etag})
    assert tail.status_code == 206
    assert tail.headers["content-range"] == f"bytes 1000-{len(whole.content) - 1}/{len(whole.content)}"
    assert whole.content[:1000] + tail.content == whole.content
    _publish(client, tokens, "newer")
    fresh = _bundle(client, tokens["ana"], Range="bytes=1000-", **{"If-Range": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag  # the old bytes are not mixed in
    assert "newer" in {json.loads(line)["id"] for line in _members(fresh.content)["articles.jsonl"].splitlines()}


def test_a_bundle_needs_a_token(api: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = api
    response = client.get("/v1/export/bundle")
    assert response.status_code == 401 and response.json()["field"] == "authorization"
