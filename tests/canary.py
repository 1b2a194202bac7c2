"""Where a secret must never be: any file written, and any picture saved (read back with OCR).

Bytes are checked in every file under the folders given (recordings, replays, reports, logs). Pictures
are read with the same offline OCR the project ships (rapidocr); only pictures of steps from the one
that typed the secret onwards can show it, so earlier ones are skipped to keep the tests short.
``ocr_sees`` is also used on a live screenshot to prove the check *can* fail: the secret, where the
app shows it, is read.
"""

from __future__ import annotations

import re
from pathlib import Path

_STEP = re.compile(r"^(\d{6})-")


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def ocr_text(image) -> str:
    """Every text line OCR reads in a PIL image, normalised (lower case, letters and digits only)."""
    import numpy as np

    from model.ocr import get_engine

    return _norm(" ".join(b.text for b in get_engine("rapidocr").read(np.asarray(image.convert("RGB")))))


def ocr_sees(image, secret_part: str) -> bool:
    return _norm(secret_part) in ocr_text(image)


def assert_absent(secret: str, *roots: Path) -> None:
    """No file under ``roots`` (or a file given itself) holds the secret, with or without spaces."""
    forms = {secret, secret.replace(" ", "")}
    for root in roots:
        files = [root] if root.is_file() else [f for f in root.rglob("*") if f.is_file()]
        for f in files:
            data = f.read_bytes()
            for form in forms:
                assert form.encode() not in data, f"the secret leaked into {f}"


def assert_not_in_pictures(secret_part: str, folder: Path, from_step: int) -> int:
    """OCR every picture of ``folder/images`` from step ``from_step`` on; returns how many were read."""
    from PIL import Image

    read = 0
    for f in sorted((folder / "images").glob("*")):
        m = _STEP.match(f.name)
        if m is None or int(m.group(1)) < from_step or f.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            continue
        with Image.open(f) as img:
            assert not ocr_sees(img, secret_part), f"the secret is readable in {f}"
        read += 1
    return read
