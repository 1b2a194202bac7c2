"""The grounding interface: find an element on a screenshot by what it shows.

``locate(shot, query) -> Match`` is shared by every grounder — offline OCR + fuzzy text, label-to-field
association, template matching of an image crop, and the VLM grounder over the model backends — so
``agent fill``, ``agent replay`` and the demo pick one (or chain them) without caring how it works.

A ``Shot`` is a screenshot plus its ``ImageMap``: grounders work in image pixels and report boxes in
**screen** coordinates, so a caller can click the centre straight away.

Ambiguity is an error, not a coin toss: two equally good matches raise ``AmbiguousMatch`` naming
both, unless the query says which (``nth``, ``near``, ``region``). Nothing found raises
``ElementNotFound`` carrying the best candidates, so the person sees what was on screen instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from PIL import Image

from actions.coords import ImageMap, Rect


@dataclass(frozen=True)
class Shot:
    """A screenshot and where it is on the screen."""

    image: Image.Image
    map: ImageMap

    @classmethod
    def full(cls, image: Image.Image, left: float = 0, top: float = 0, scale: float = 1.0) -> "Shot":
        area = Rect(left, top, image.width / scale, image.height / scale)
        return cls(image, ImageMap(area, image.width, image.height))


@dataclass(frozen=True)
class Query:
    """What to look for.

    * ``text``: visible text (a button's caption, a label); fuzzy matched.
    * ``template``: an image crop (an icon, a recorded target), matched by appearance.
    * ``role``: "text" (the text itself), "field" (the input right of or below a label ``text``),
      "any".
    * ``nth``: pick the n-th match (1-based, reading order) when several are equally good.
    * ``near``: prefer the match closest to this text anchor (e.g. near="Billing address").
    * ``region``: search only inside this screen rectangle.
    * ``description``: free text for a VLM grounder ("the blue Save icon in the toolbar").
    """

    text: str | None = None
    template: Image.Image | None = None
    role: Literal["text", "field", "any"] = "any"
    nth: int | None = None
    near: str | None = None
    region: Rect | None = None
    description: str | None = None
    min_score: float = 0.8

    def label(self) -> str:
        return self.text or self.description or ("image template" if self.template is not None else "?")


@dataclass(frozen=True)
class Match:
    box: Rect  # screen coordinates
    score: float  # 0..1
    method: str  # "ocr", "ocr+field", "template", "vlm", ...
    text: str | None = None

    @property
    def center(self) -> tuple[float, float]:
        return self.box.left + self.box.width / 2, self.box.top + self.box.height / 2


class GroundingError(Exception):
    pass


class ElementNotFound(GroundingError):
    def __init__(self, query: Query, candidates: list[Match] | None = None, screenshot: str | None = None,
                 detail: str = ""):
        self.query = query
        self.candidates = candidates or []
        self.screenshot = screenshot
        self.detail = detail
        best = "; best: " + ", ".join(f"{c.text!r} ({c.score:.2f})" for c in self.candidates[:3]) if self.candidates else ""
        where = f"; screenshot saved to {screenshot}" if screenshot else ""
        super().__init__(f"element {query.label()!r} not found on screen{best}{where}{detail}")

    def with_screenshot(self, path: str) -> "ElementNotFound":
        """The same error naming where the caller saved the screenshot it searched."""
        return ElementNotFound(self.query, self.candidates, path, self.detail)


class AmbiguousMatch(GroundingError):
    def __init__(self, query: Query, matches: list[Match]):
        self.query = query
        self.matches = matches
        names = " and ".join(f"{m.text!r} at ({m.center[0]:.0f}, {m.center[1]:.0f})" for m in matches[:2])
        super().__init__(f"{query.label()!r} matches {names} equally well; say which with nth, near or region")


class Grounder(Protocol):
    name: str

    def locate(self, shot: Shot, query: Query) -> Match: ...


@dataclass
class ChainGrounder:
    """Try grounders in order; the first match wins. Used for "offline first, VLM as fallback"."""

    grounders: list[Grounder]
    name: str = "chain"
    tried: list[str] = field(default_factory=list)

    def locate(self, shot: Shot, query: Query) -> Match:
        errors: list[GroundingError] = []
        for g in self.grounders:
            try:
                return g.locate(shot, query)
            except AmbiguousMatch:
                raise
            except GroundingError as e:
                errors.append(e)
        candidates = [c for e in errors if isinstance(e, ElementNotFound) for c in e.candidates]
        raise ElementNotFound(query, sorted(candidates, key=lambda m: -m.score),
                              detail=f" (tried {', '.join(g.name for g in self.grounders)})")
