"""The screenshots of a report, each encoded once: a small JPEG thumbnail and a larger JPEG.

Why a store: one screenshot appears several times in a report (step *i*'s "after" is step *i+1*'s
"before", the index shows its thumbnail, the eval page the last one), and a self-contained report
must carry every image as a data URI. So each file is read and encoded once, given an id, and the
page refers to the id: thumbnails sit inline in the index, the larger copies live in one JSON block
that the page's script puts into a step's ``<img>`` when that step is opened (a 30-step report stays
a few megabytes and opens quickly).

Only files inside the allowed folders are read: a trajectory is untrusted input, and a step naming
``../../home/x/.ssh/id_rsa.png`` must not pull that file into a report that gets mailed around.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

THUMB_WIDTH = 240
FULL_WIDTH = 1280
QUALITY = 70
THUMB_QUALITY = 60


def _jpeg_uri(img: Image.Image, width: int, quality: int) -> str:
    if img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class ImageStore:
    """Screenshots by id. ``add(rel)`` returns an id (or None for a missing, unreadable or outside
    file); ``thumb(id)`` is the inline thumbnail; ``full`` maps ids to the larger data URIs."""

    def __init__(self, base: Path, roots: list[Path] | None = None, *, full_width: int = FULL_WIDTH,
                 thumb_width: int = THUMB_WIDTH, quality: int = QUALITY) -> None:
        self.base = Path(base).resolve()
        self.roots = [r.resolve() for r in (roots or [self.base])]
        self.full_width, self.thumb_width, self.quality = full_width, thumb_width, quality
        self.full: dict[str, str] = {}
        self._thumbs: dict[str, str] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self._ids: dict[Path, str | None] = {}

    def resolve(self, rel: str | Path | None) -> Path | None:
        """The file ``rel`` names (relative to the base folder, or absolute), if inside a root.
        Files found on disk by the caller should be passed absolute (``Path.resolve()``)."""
        if not rel or not isinstance(rel, (str, Path)):
            return None
        p = Path(rel)
        p = (p if p.is_absolute() else self.base / p).resolve()
        if not any(p.is_relative_to(r) for r in self.roots) or not p.is_file():
            return None
        return p

    def add(self, rel: str | Path | None) -> str | None:
        p = self.resolve(rel)
        if p is None:
            return None
        if p in self._ids:
            return self._ids[p]
        try:
            with Image.open(p) as im:
                img = im.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError):
            self._ids[p] = None
            return None
        key = f"i{len(self._ids)}"
        self._ids[p] = key
        self._sizes[key] = img.size
        self.full[key] = _jpeg_uri(img, self.full_width, self.quality)
        self._thumbs[key] = _jpeg_uri(img, self.thumb_width, THUMB_QUALITY)
        return key

    def thumb(self, key: str | None) -> str:
        return self._thumbs.get(key or "", "")

    def size(self, key: str | None) -> tuple[int, int] | None:
        return self._sizes.get(key or "")

    def known(self) -> set[Path]:
        """Every file read so far (to list the screenshots no step refers to)."""
        return {p for p, k in self._ids.items() if k is not None}
