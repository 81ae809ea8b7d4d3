"""The portal's search page against the JSON API, over a real `kb serve` on the starter KB: the same questions,
asked in turn of `GET /search?q=` (server-rendered HTML, signed in with the session cookie) and of
`GET /v1/search?q=` (JSON, the bearer token), after a warm-up. Prints p50/p95 of each and the ratio HTML / JSON
(the target is 1.2 at p50). A figure is never a failure.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/portal_render.py [--work DIR] [--questions 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.remote_sync import percentile, questions  # noqa: E402
from bench.server import KB_SERVE_NO_REINDEX, running_server, server_environment  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="Working folder (kept; reused by the next run).")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="Times each question is asked of each.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kb-portal-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        settings = Settings(data_dir=work / "starter-data", articles_dir=REPO / "articles")
        kb = KnowledgeBase(settings)
        try:
            kb.indexing.build()
            _, token = kb.users.add(f"bench-{uuid.uuid4().hex[:6]}", email="b@example.com", role="employee")
        finally:
            kb.close()
        env = server_environment(settings.data_dir, settings.articles_dir, {"KB_RATE_LIMIT_PER_MINUTE": "0"})
        asked = questions(args.questions)
        with running_server(KB_SERVE_NO_REINDEX, env, work / "server.log", timeout=300) as server:
            html_ms: list[float] = []
            json_ms: list[float] = []
            with (
                httpx.Client(base_url=server.base, cookies={"kb_session": token}, timeout=60) as page,
                httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api,
            ):
                for question in asked[:5]:  # warm-up: the model thread, the templates, the language detector
                    page.get("/search", params={"q": question}).raise_for_status()
                    api.get("/v1/search", params={"q": question, "limit": 10}).raise_for_status()
                for _ in range(args.rounds):
                    for question in asked:
                        started = time.perf_counter()
                        page.get("/search", params={"q": question}).raise_for_status()
                        html_ms.append((time.perf_counter() - started) * 1000)
                        started = time.perf_counter()
                        api.get("/v1/search", params={"q": question, "limit": 10}).raise_for_status()
                        json_ms.append((time.perf_counter() - started) * 1000)
        figures = {
            "requests_each": len(html_ms),
            "html_p50_ms": statistics.median(html_ms),
            "html_p95_ms": percentile(html_ms, 0.95),
            "json_p50_ms": statistics.median(json_ms),
            "json_p95_ms": percentile(json_ms, 0.95),
        }
        figures["ratio_p50"] = figures["html_p50_ms"] / figures["json_p50_ms"]
        figures["ratio_p95"] = figures["html_p95_ms"] / figures["json_p95_ms"]
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
