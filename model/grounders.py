"""Which grounder a job gets: offline (OCR text + templates), a VLM, or offline first with the VLM
as the fallback. One place, so ``agent fill``, replay and the benchmark build them the same way."""

from __future__ import annotations

from model.base import Model
from model.ground_template import TemplateGrounder
from model.ground_text import OcrGrounder
from model.ground_vlm import VlmGrounder
from model.grounding import ChainGrounder, ElementNotFound, Grounder, Match, Query, Shot
from model.ocr import CachedReader, get_engine


class OfflineGrounder:
    """Templates for image queries, OCR for text queries; no network, CPU only."""

    def __init__(self, engine: str = "rapidocr") -> None:
        self.text = OcrGrounder(reader=CachedReader(get_engine(engine)))
        self.template = TemplateGrounder()
        self.name = f"offline({self.text.name})"

    def locate(self, shot: Shot, query: Query) -> Match:
        if query.template is not None:
            return self.template.locate(shot, query)
        if query.text:
            return self.text.locate(shot, query)
        raise ElementNotFound(query, detail=" (only a description: offline grounding needs text or an image; "
                                            "configure a model with --model-url for descriptions)")


def build_grounder(engine: str = "rapidocr", model: Model | None = None, mode: str = "auto") -> Grounder:
    """``mode``: offline, vlm, chain, or auto (chain when a model is given, else offline)."""
    if mode == "auto":
        mode = "chain" if model is not None else "offline"
    if mode in ("vlm", "chain") and model is None:
        raise ValueError(f"--grounder {mode} needs a model (--model-url / AGENT_MODEL_URL)")
    if mode == "offline":
        return OfflineGrounder(engine)
    if mode == "vlm":
        return VlmGrounder(model)
    if mode == "chain":
        return ChainGrounder([OfflineGrounder(engine), VlmGrounder(model)])
    raise ValueError(f"unknown grounder {mode!r}: use auto, offline, vlm or chain")
