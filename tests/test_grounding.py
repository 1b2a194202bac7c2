"""Grounders on rendered screenshots (no display needed): real OCR, real OpenCV, a scripted VLM."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from actions.coords import ImageMap, Rect
from agent.fill.results import Ledger, RowResult
from agent.fill.script import MissingValue, as_bool, parse_script, substitute
from model.base import ScriptedModel
from model.ground_template import TemplateGrounder
from model.ground_text import OcrGrounder, text_score
from model.ground_vlm import VlmGrounder, parse_box
from model.grounders import OfflineGrounder
from model.grounding import AmbiguousMatch, ChainGrounder, ElementNotFound, Query, Shot

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def form(extra: list[tuple[str, int, int]] = ()) -> Image.Image:
    """A light form: labels left of bordered fields, one field below its label."""
    img = Image.new("RGB", (900, 560), (236, 236, 236))
    d = ImageDraw.Draw(img)
    f = ImageFont.truetype(FONT, 17)
    for i, label in enumerate(["First name", "Last name", "Email"]):
        y = 60 + i * 60
        d.text((40, y), label, font=f, fill=(20, 20, 20))
        d.rectangle([200, y - 8, 520, y + 28], fill="white", outline=(40, 40, 40))
    d.text((40, 260), "Comments", font=f, fill=(20, 20, 20))
    d.rectangle([40, 292, 520, 330], fill="white", outline=(40, 40, 40))
    d.rectangle([600, 400, 720, 440], fill=(210, 210, 210), outline=(40, 40, 40))
    d.text((630, 410), "Save", font=f, fill=(20, 20, 20))
    for text, x, y in extra:
        d.text((x, y), text, font=f, fill=(20, 20, 20))
    return img


@pytest.fixture(scope="module")
def ocr():
    return OcrGrounder()


def test_text_score_prefers_exact_lines_and_forgives_lost_spaces():
    assert text_score("Save", "Save")[0] == 1.0
    assert text_score("Save", "Saved: Ada (#1)")[0] < 1.0 - 0.03
    assert text_score("Date of birth", "Dateofbirth")[0] == 1.0
    assert text_score("Email", "Email:")[0] == 1.0
    assert text_score("Email", "Phone")[0] < 0.5


def test_label_to_field_right_and_below(ocr):
    shot = Shot.full(form(), left=100, top=50)  # a shot of a screen area at an offset
    m = ocr.locate(shot, Query(text="Last name", role="field"))
    assert m.method.endswith("+field") and m.box.left == pytest.approx(300, abs=3)
    assert m.box.top == pytest.approx(50 + 112, abs=3) and m.box.width == pytest.approx(321, abs=4)
    below = ocr.locate(shot, Query(text="Comments", role="field"))
    assert below.box.top == pytest.approx(50 + 292, abs=3) and below.box.left == pytest.approx(140, abs=3)
    save = ocr.locate(shot, Query(text="Save"))
    assert save.box.contains(100 + 660, 50 + 420)


def test_ambiguity_is_an_error_unless_the_query_says_which(ocr):
    shot = Shot.full(form())
    with pytest.raises(AmbiguousMatch) as e:
        ocr.locate(shot, Query(text="name"))
    assert "First name" in str(e.value) and "Last name" in str(e.value)
    assert ocr.locate(shot, Query(text="name", nth=2)).text == "Last name"
    assert ocr.locate(shot, Query(text="name", near="Email")).text == "Last name"
    assert ocr.locate(shot, Query(text="name", region=Rect(0, 40, 900, 50))).text == "First name"


def test_not_found_names_the_best_candidates(ocr):
    with pytest.raises(ElementNotFound) as e:
        ocr.locate(Shot.full(form()), Query(text="Middle name", role="field"))
    assert e.value.candidates and "best:" in str(e.value)
    assert "screenshot saved to /x.png" in str(e.value.with_screenshot("/x.png"))


def test_the_cache_rereads_only_what_changed():
    g = OcrGrounder()
    base = form()
    g.locate(Shot.full(base), Query(text="Email"))
    assert g.reader.stats["full"] == 1
    g.locate(Shot.full(base.copy()), Query(text="Email"))
    assert g.reader.stats["hit"] == 1
    typed = form(extra=[("Lovelace", 210, 120)])
    m = g.locate(Shot.full(typed), Query(text="Lovelace"))
    assert g.reader.stats == {"full": 1, "partial": 1, "hit": 1}
    assert m.box.contains(240, 130)
    assert g.locate(Shot.full(typed), Query(text="First name")).box.contains(60, 70)


def icon() -> Image.Image:
    im = Image.new("RGB", (24, 24), (236, 236, 236))
    d = ImageDraw.Draw(im)
    d.ellipse([2, 2, 21, 21], fill=(30, 90, 200))
    d.rectangle([9, 6, 14, 17], fill="white")
    return im


def test_template_matching_finds_icons_and_refuses_to_guess_between_two():
    g = TemplateGrounder()
    img = form()
    img.paste(icon(), (700, 100))
    m = g.locate(Shot.full(img), Query(template=icon()))
    assert m.center == pytest.approx((712, 112), abs=1)
    img.paste(icon(), (760, 200))
    with pytest.raises(AmbiguousMatch):
        g.locate(Shot.full(img), Query(template=icon()))
    assert g.locate(Shot.full(img), Query(template=icon(), nth=2)).center == pytest.approx((772, 212), abs=1)
    with pytest.raises(ElementNotFound):
        g.locate(Shot.full(form()), Query(template=icon()))
    # a downscaled shot: the template is scaled with it
    half = img.resize((450, 280))
    shot = Shot(half, ImageMap(Rect(0, 0, 900, 560), 450, 280))
    m = TemplateGrounder(threshold=0.8).locate(shot, Query(template=icon(), region=Rect(650, 50, 200, 100)))
    assert m.center == pytest.approx((712, 112), abs=3)


def test_vlm_boxes_map_to_the_screen_and_back_the_offline_grounder():
    shot = Shot(form().resize((450, 280)), ImageMap(Rect(100, 50, 900, 560), 450, 280))
    vlm = VlmGrounder(ScriptedModel(["<think>hm</think><|begin_of_box|>[[500,250,600,300]]<|end_of_box|>",
                                     "NOT_FOUND"]))
    m = vlm.locate(shot, Query(description="the blue icon"))
    assert (m.box.left, m.box.top) == pytest.approx((100 + 450, 50 + 140))
    assert m.box.width == pytest.approx(90) and m.method.startswith("vlm")
    with pytest.raises(ElementNotFound):
        vlm.locate(shot, Query(text="Nothing"))
    assert parse_box("[12, 30]") == (12, 30, 13, 31) and parse_box("no box") is None
    model = ScriptedModel(["<|begin_of_box|>[100,100,200,200]<|end_of_box|>"])
    chain = ChainGrounder([OfflineGrounder(), VlmGrounder(model)])
    assert chain.locate(Shot.full(form()), Query(text="Save")).method.startswith("ocr")  # offline first
    assert model.calls == []
    assert chain.locate(Shot.full(form()), Query(description="the gear icon")).method.startswith("vlm")
    assert "the gear icon" in model.calls[0][0].content[1].text


def test_variables_booleans_and_the_ledger(tmp_path):
    assert substitute("{a} {b?}!", {"a": "x", "b": ""}) == ("x !", True)
    with pytest.raises(MissingValue):
        substitute("{a}", {"a": " "})
    assert substitute("{{secret:PW}}", {}) == ("{{secret:PW}}", False)
    assert as_bool("Yes") is True and as_bool("") is False
    with pytest.raises(MissingValue):
        as_bool("maybe")
    s = parse_script("steps:\n  - type: {into: A, text: '{x} {y?}'}\n  - expect: '{x}'\n")
    assert s.variables() == {"x": True, "y": False}
    led = Ledger(tmp_path)
    for r in (RowResult(1, "ok"), RowResult(2, "failed", "boom"), RowResult(3, "stopped")):
        led.record(r)
    again = Ledger.load(tmp_path)
    assert again.done() == {1, 2} and again.done(retry_failed=True) == {1}
    assert (tmp_path / "results.csv").read_text().splitlines()[2].startswith("2,,failed,boom,")


def test_tesseract_is_a_drop_in_engine():
    import shutil

    if shutil.which("tesseract") is None:
        pytest.skip("tesseract-ocr is not installed (apt-get install tesseract-ocr)")
    from model.ocr import CachedReader, TesseractEngine

    g = OcrGrounder(reader=CachedReader(TesseractEngine()))
    m = g.locate(Shot.full(form()), Query(text="Last name", role="field"))
    assert m.method == "ocr:tesseract+field" and m.box.contains(360, 130)
