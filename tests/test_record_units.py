"""Record/replay pieces without a display: merging raw events into steps, multi-scale template
matching, the fill-script export and the HTML report."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from actions.space import Click, Drag, Hotkey, KeyPress, Scroll, TypeText
from agent.record.anchors import TemplateGrounder, anchor_point, crop_around
from agent.record.merge import RawEvent, StepMerger
from agent.trajectory import TrajectoryWriter
from model.grounding import AmbiguousMatch, ElementNotFound, Query, Shot


def merge(events, **kw):
    m = StepMerger(stop=("ctrl", "alt", "s"), secret=("ctrl", "alt", "m"), **kw)
    out = []
    for e in events:
        out += m.feed(e)
    out += m.flush()
    return m, out


def key(t, k, ch=None, up=False):
    return RawEvent("key_up" if up else "key_down", t, key=k, char=ch)


def typed(t, text):
    evs = []
    for i, ch in enumerate(text):
        evs += [key(t + i * 0.05, ch.lower() if ch != " " else "space", ch),
                key(t + i * 0.05 + 0.01, ch.lower() if ch != " " else "space", ch, up=True)]
    return evs


def test_clicks_double_clicks_drags_and_scrolls_become_single_steps():
    _, out = merge([
        RawEvent("press", 0.0, 10, 10), RawEvent("release", 0.05, 11, 10),
        RawEvent("press", 1.0, 50, 50), RawEvent("release", 1.05, 50, 50),
        RawEvent("press", 1.2, 51, 50), RawEvent("release", 1.25, 51, 50),
        RawEvent("press", 2.0, 100, 100), RawEvent("release", 2.5, 200, 100),
        RawEvent("scroll", 3.0, 300, 300, dy=-1), RawEvent("scroll", 3.1, 301, 300, dy=-1),
        RawEvent("scroll", 3.2, 300, 301, dy=-1),
    ])
    assert [s.action for s in out] == [Click(10, 10), Click(50, 50, clicks=2),
                                       Drag(100, 100, 200, 100, duration=0.5), Scroll(dy=-3, x=300, y=300)]
    assert out[1].t0 == 1.0  # the screenshot must predate the first press


def test_a_click_waits_for_a_possible_second_click_then_tick_emits_it():
    m = StepMerger(stop=("ctrl", "alt", "s"))
    assert m.feed(RawEvent("press", 0.0, 5, 5)) == [] and m.feed(RawEvent("release", 0.05, 5, 5)) == []
    assert m.tick(0.2) == []
    assert [s.action for s in m.tick(0.6)] == [Click(5, 5)]


def test_typing_is_one_string_with_backspace_applied_and_keys_and_hotkeys_separate():
    _, out = merge([
        *typed(0.0, "Helo"), key(0.3, "backspace"), *typed(0.4, "lo World"),
        key(1.0, "tab"), key(1.1, "tab"),
        key(1.5, "ctrl"), key(1.6, "c", "\x03"), key(1.7, "c", up=True), key(1.8, "ctrl", up=True),
        key(2.0, "shift"), *typed(2.1, "A"), key(2.3, "shift", up=True),
    ])
    assert [s.action for s in out] == [TypeText("Hello World"), KeyPress("tab", presses=2),
                                       Hotkey(("ctrl", "c")), TypeText("A")]


def test_stop_hotkey_ends_and_secret_hotkey_marks_the_text_never_a_step():
    m, out = merge([
        *typed(0.0, "alice"), key(0.5, "tab"),
        *typed(1.0, "hunter2"), key(1.5, "ctrl"), key(1.5, "alt"), key(1.6, "m"),
        key(1.7, "m", up=True), key(1.7, "alt", up=True), key(1.7, "ctrl", up=True),
        RawEvent("press", 2.0, 1, 1), RawEvent("release", 2.1, 1, 1),
        key(3.0, "ctrl"), key(3.0, "alt"), key(3.1, "s"),
        *typed(4.0, "after the stop"),
    ])
    assert m.stopped
    kinds = [(type(s.action).__name__, s.secret) for s in out]
    assert kinds == [("TypeText", False), ("KeyPress", False), ("TypeText", True), ("Click", False)]


def _screen() -> Image.Image:
    img = Image.new("RGB", (640, 400), (235, 235, 235))
    d = ImageDraw.Draw(img)
    for i in range(6):
        d.rectangle((40 + i * 90, 60, 110 + i * 90, 100), outline=(30, 30, 30), fill=(200, 220, 255 - i * 30))
        d.text((50 + i * 90, 72), f"Btn {i}", fill=(0, 0, 0))
    d.ellipse((300, 250, 360, 310), fill=(200, 40, 40))
    d.text((310, 320), "Save", fill=(0, 0, 0))
    return img


def test_template_found_after_the_screen_is_scaled_and_shifted():
    img = _screen()
    c = crop_around(img, 330, 280, (120, 100))
    big = Image.new("RGB", (1000, 700), (235, 235, 235))
    scaled = img.resize((800, 500), Image.Resampling.BILINEAR)  # 1.25x: HiDPI / another resolution
    big.paste(scaled, (120, 90))
    m = TemplateGrounder().locate(Shot.full(big), Query(template=c.image))
    x, y = anchor_point(m, c.image, c.offset)
    assert abs(x - (120 + 330 * 1.25)) < 4 and abs(y - (90 + 280 * 1.25)) < 4


def test_template_twice_on_screen_is_ambiguous_and_absent_is_not_found():
    img = _screen()
    d = ImageDraw.Draw(img)
    d.ellipse((460, 250, 520, 310), fill=(200, 40, 40))
    c = crop_around(img, 330, 280, (70, 70))
    with pytest.raises(AmbiguousMatch):
        TemplateGrounder().locate(Shot.full(img), Query(template=c.image))
    blank = Image.new("RGB", (640, 400), (235, 235, 235))
    ImageDraw.Draw(blank).rectangle((10, 10, 50, 50), fill=(0, 0, 0))
    with pytest.raises(ElementNotFound):
        TemplateGrounder().locate(Shot.full(blank), Query(template=c.image))


def test_crop_stays_inside_the_window():
    img = _screen()
    c = crop_around(img, 330, 280, (200, 100), within=(300, 240, 400, 340))
    assert c.box == (300, 240, 400, 340) and c.offset == (30, 40)


def _recording(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIT_PW", "Canary-unit-77")
    rec = tmp_path / "rec"
    img = _screen()
    with TrajectoryWriter(rec, kind="record", meta={"screen": [640, 400]}) as w:
        import io

        buf = io.BytesIO()
        img.save(buf, "PNG")
        shot = w.add_image(buf.getvalue(), step=0, label="before", ext="png")
        crop = w.add_image(buf.getvalue(), step=0, label="crop", ext="png")
        base = {"screenshot": shot, "screen_area": [0, 0, 640, 400], "image_size": [640, 400], "ok": True}
        w.append({**base, "action": Click(200, 80).to_json(),
                  "anchor": {"crop": crop, "offset": [5, 5], "text": None, "label": "Last name"}})
        w.append({**base, "action": TypeText("Smith").to_json(), "var": "last_name"})
        w.append({**base, "action": Click(200, 130).to_json(), "anchor": {"crop": crop, "text": None, "label": "Password"}})
        w.append({**base, "action": TypeText("{{secret:UNIT_PW}}").to_json(), "secret": "UNIT_PW",
                  "thought": "typed Canary-unit-77 into the field"})
        w.append({**base, "action": KeyPress("tab").to_json()})
        w.append({**base, "action": Click(330, 280, clicks=2).to_json(), "anchor": {"crop": crop, "text": "Save"},
                  "timings": {"person_s": 4.0}})
        w.append({**base, "action": Drag(10, 10, 50, 10).to_json()})
    return rec


def test_export_writes_a_valid_fill_script_with_vars(tmp_path, monkeypatch):
    from agent.record.export import export_yaml

    rec = _recording(tmp_path, monkeypatch)
    text, notes, variables = export_yaml(rec, tmp_path / "out" / "s.yaml", use_vars=True)
    assert variables == {"last_name": "Smith"}
    assert "into: Last name" in text and "text: '{last_name}'" in text
    assert "{{secret:UNIT_PW}}" in text and "double_click: Save" in text and "wait_for: Save" in text
    assert "press: tab" in text and any("drag" in n for n in notes)
    assert "Canary-unit-77" not in text


def _dropdown_recording(tmp_path, list_stays: bool):
    """Click "Country", click a row of a list that opened below it, click "Save"."""
    import io

    plain = Image.new("RGB", (640, 400), (235, 235, 235))
    opened = plain.copy()
    d = ImageDraw.Draw(opened)
    d.rectangle((200, 120, 480, 260), fill=(255, 255, 255), outline=(0, 0, 0))
    for k, name in enumerate(("Norway", "Sweden", "Denmark")):
        d.text((204, 126 + 21 * k), name, fill=(0, 0, 0))
    rec = tmp_path / ("stays" if list_stays else "rec")
    with TrajectoryWriter(rec, kind="record", meta={"screen": [640, 400]}) as w:
        def shot(img, i):
            buf = io.BytesIO()
            img.save(buf, "PNG")
            return {"screenshot": w.add_image(buf.getvalue(), step=i, label="before", ext="png"),
                    "screen_area": [0, 0, 640, 400], "image_size": [640, 400], "ok": True}
        w.append({**shot(plain, 0), "action": Click(340, 100).to_json(),
                  "anchor": {"text": None, "label": "Country", "point": [340, 100]}})
        w.append({**shot(opened, 1), "action": Click(340, 152).to_json(),  # right of the word "Sweden"
                  "anchor": {"text": "mark", "text_offset": [80, -20], "text_size": [50, 14], "label": "Sweden"}})
        w.append({**shot(opened if list_stays else plain, 2), "action": Click(300, 330).to_json(),
                  "anchor": {"text": "Save", "text_offset": [0, 0], "text_size": [40, 14], "label": None}})
    return rec


def test_export_turns_a_list_opened_and_chosen_from_into_select(tmp_path):
    from agent.record.export import export_yaml

    rec = _dropdown_recording(tmp_path, False)
    text, _, variables = export_yaml(rec, tmp_path / "s.yaml", use_vars=True)
    assert variables == {"country": "Sweden"}
    assert "select:\n    field: Country\n    option: '{country}'" in text and "click: Save" in text
    text, _, _ = export_yaml(rec, tmp_path / "s.yaml")
    assert "option: Sweden" in text
    # what appeared did not go away after the second click: two ordinary clicks, no select
    text, _, variables = export_yaml(_dropdown_recording(tmp_path, True), tmp_path / "s.yaml", use_vars=True)
    assert "select" not in text and "click: mark" in text and variables == {}


def test_report_is_self_contained_and_masks_secrets(tmp_path, monkeypatch):
    from agent.trajectory.report import write_report

    rec = _recording(tmp_path, monkeypatch)
    path = write_report(rec)
    html = path.read_text()
    assert path.parent == rec.parent  # the sealed folder is left untouched
    assert "Canary-unit-77" not in html and "{{secret" not in html and "***" in html
    assert html.count("data:image/jpeg;base64,") >= 7 and "left:31.25%;top:20.00%" in html
    assert "src=\"images/" not in html  # nothing relative: the file stands alone
