"""POST /v1/surveys/nps: how likely employees are to recommend the internal service desks."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import KB, Reader
from api.schemas.tickets import NpsCreate, NpsOut

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])


@router.post("/nps", response_model=NpsOut, status_code=201, summary="Answer the NPS survey (once a quarter)")
def answer_nps(kb: KB, reader: Reader, body: NpsCreate) -> NpsOut:
    return NpsOut.model_validate(kb.surveys.answer_nps(reader, body.score, body.comment, body.team))
