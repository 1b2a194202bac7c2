"""Observation modes without a display: the element list (rendering, cap, references), element actions,
the generic family, element ids in the GLM-4.5V / GLM-4.1V / UI-TARS families, the settings keys."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from actions.coords import ImageMap, Rect
from actions.space import Click, Done, Drag, Fail, Hotkey, KeyPress, MoveTo, Scroll, TypeText, Wait
from agent.elements.model import Element, ScreenModel
from agent.observe import candidates, observe_mode
from model.base import Completion, ImagePart, ModelError, TextPart
from model.config import load_settings
from model.families import get_family
from model.family import HistoryEntry, ParseError
from model.answers import json_objects
from model.generic import GenericFamily
from model.glm41v import Glm41vFamily
from model.glm45v import Glm45vFamily
from model.marks import (HEADER, ElementAction, ElementList, Mark, context_of, estimate_tokens, fit,
                         render_table)
from model.uitars import UITarsFamily, smart_resize

MAP = ImageMap(Rect(0, 0, 1920, 1080), 1280, 720)  # a 1920x1080 screen sent at 1280x720
GEN, GLM, GLM41, TARS = GenericFamily(), Glm45vFamily(), Glm41vFamily(), UITarsFamily()


def C(text: str) -> Completion:
    return Completion(text=text, model="t", latency_s=0.0)


def png(w: int, h: int) -> ImagePart:
    return ImagePart.from_image(Image.new("RGB", (w, h), (90, 90, 90)))


def marks(style: str) -> ElementList:
    raw = [("cb94ed9c", "combobox", "From", Rect(90, 200, 340, 40), None, ("focused",), None),
           ("24f381b2", "combobox", "Passengers", Rect(414, 278, 170, 40), "1 passenger", (), None),
           ("f2c607bc", "button", "Select", Rect(704, 256, 90, 36), None, (), "06:00 | 11:02 | €151.80"),
           ("7dd1371c", "button", "Select", Rect(704, 360, 90, 36), None, (), "11:00 | 15:05 | €189.80"),
           ("775dba68", "button", "Pay €202.80", Rect(960, 900, 160, 40), None, (), None)]
    ms = tuple(Mark(str(i + 1) if style == "marks" else eid, eid, role, name, b, value=v, states=st, context=ctx)
               for i, (eid, role, name, b, v, st, ctx) in enumerate(raw))
    return ElementList(ms, style, MAP, total=len(ms))


SOM, IDS = marks("marks"), marks("ids")


# --- the list ---------------------------------------------------------------------------------

def test_render_table_in_thousandths_and_the_cap_line():
    text = render_table(SOM)
    lines = text.splitlines()
    assert lines[0] == HEADER and len(lines) == 6
    assert lines[1].split("\t") == ["1", "combobox", "From", "", "focused", "", "(135,204)", "(177,37)"]
    assert lines[4].split("\t")[5] == "11:00 | 15:05 | €189.80"  # the row tells the twin Select buttons apart
    capped = ElementList(SOM.marks[:2], "marks", MAP, total=5)
    assert render_table(capped).splitlines()[-1].startswith("… 3 more elements not listed")
    # a family's own units: pixels of the screenshot
    px = render_table(SOM, MAP.screen_to_image).splitlines()[1].split("\t")
    assert px[6:] == ["(173,147)", "(227,27)"]


def test_cells_are_one_line_cut_and_masked(monkeypatch):
    monkeypatch.setenv("CARD", "4111 1111 1111 1111")
    from actions import secrets

    secrets.resolve("{{secret:CARD}}")  # typed once: its value is now masked wherever it shows up
    m = Mark("1", "x", "textarea", "Notes\twith a tab " + "n" * 80, Rect(0, 0, 10, 10),
             value="line one\nline two 4111 1111 1111 1111")
    cells = render_table(ElementList((m,), "marks", MAP, 1)).splitlines()[1].split("\t")
    assert len(cells) == 8 and cells[2].endswith("…") and len(cells[2]) == 60
    assert cells[3] == "line one\\nline two ***"


def test_fit_caps_in_estimated_tokens_keeping_reading_order():
    many = [Mark(str(i), f"id{i}", "button", f"Button number {i}", Rect(10, 10 + 30 * i, 100, 20)) for i in range(200)]
    kept = fit(many, MAP, 500)
    assert 5 < len(kept) < 200 and list(kept) == many[:len(kept)]
    table = render_table(ElementList(kept, "marks", MAP, 200))
    assert estimate_tokens(table) <= 500  # the cap holds, the "more" line included
    assert len(fit(many, MAP, 100_000)) == 200


def test_estimate_tokens():
    assert estimate_tokens("") == 0
    assert estimate_tokens("Select") == 1 and estimate_tokens("Passengers") == 2
    assert estimate_tokens("(412,521)") == 9  # digits and symbols one each
    assert estimate_tokens("a\tb\nc") == 5


def test_context_rules():
    assert context_of("button", "11:00 | 15:05", "Results") == "11:00 | 15:05"
    assert context_of("radio", "row", "Seat") == "Seat"
    assert context_of("entry", None, "Passenger details") is None  # a field's label is its name


def test_find_accepts_the_ways_models_write_a_reference():
    assert SOM.find(3).name == "Select" and SOM.find("3").name == "Select"
    assert SOM.find("[3]") is SOM.find("#3") is SOM.find(3.0) is SOM.marks[2]
    assert SOM.find(9) is None and SOM.find(True) is None and SOM.find(None) is None
    assert IDS.find("CB94ED9C").name == "From" and IDS.find("1") is None


def test_element_actions_at_the_centre_with_the_label_as_target():
    m = SOM.marks[4]
    assert ElementAction("click", m).actions() == (Click(1040, 920, target="button 'Pay €202.80'"),)
    t = ElementAction("type", SOM.marks[0], text="Ber").actions()
    assert t == (Click(260, 220, target="combobox 'From'"), TypeText("Ber"))
    assert ElementAction("type", SOM.marks[0], text="Ber", clear=True).actions()[0].clicks == 3
    s = ElementAction("select", SOM.marks[1], text="2 passengers").actions()
    assert s[1:] == (TypeText("2 passengers"), KeyPress("enter"))
    assert ElementAction("scroll", m, dy=-3).actions() == (Scroll(dy=-3, x=1040, y=920),)
    assert ElementAction("hover", m).actions() == (MoveTo(1040, 920),)
    assert ElementAction("right_click", m).actions()[0].button == "right"


# --- generic family -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    'Click Pay. {"action": "click", "mark": 5}',
    '<tool_call>{"name": "click", "arguments": {"mark": 5}}</tool_call>',
    '{"name": "click", "arguments": "{\\"mark\\": 5}"}',
    '{"type": "function", "function": {"name": "click", "arguments": {"index": 5}}}',
    '{"name": "computer", "arguments": {"action": "click", "element": "5"}}',
    'Action: {"action_type": "click", "index": 5}',
    "{'action_type': 'click', 'index': 5}",
    '```json\n{"action": {"type": "click", "mark": "[5]"}}\n```',
    "click(mark=5)", "click(5)",
])
def test_generic_reads_many_shapes_of_one_click(text):
    s = GEN.parse(C(text), MAP, elements=SOM)
    assert s.element is not None and s.element.mark is SOM.marks[4] and s.element.kind == "click"
    assert s.action == Click(1040, 920, target="button 'Pay €202.80'")
    assert s.action_text.endswith("-> button 'Pay €202.80'")


def test_generic_thought_type_select_scroll_keys_and_terminal():
    s = GEN.parse(C('Thought: the From field first.\n{"action": "type", "mark": 1, "text": "Ber"}'), MAP, elements=SOM)
    assert s.thought == "the From field first." and s.element.text == "Ber" and s.element.kind == "type"
    s = GEN.parse(C('{"action": "input_text", "element": "cb94ed9c", "text": "Ber", "clear": true}'), MAP, elements=IDS)
    assert s.element.clear and s.action.clicks == 3
    s = GEN.parse(C('{"action": "select", "mark": 2, "option": "2 passengers"}'), MAP, elements=SOM)
    assert (s.element.kind, s.element.text) == ("select", "2 passengers")
    assert GEN.parse(C('{"action": "scroll", "mark": 3, "direction": "up", "amount": 2}'), MAP,
                     elements=SOM).action == Scroll(dy=2, x=749, y=274)
    assert GEN.parse(C('{"action": "key", "keys": ["ctrl", "a"]}'), MAP).action == Hotkey(("ctrl", "a"))
    assert GEN.parse(C('{"action_type": "keyboard_enter"}'), MAP).action == KeyPress("enter")
    assert GEN.parse(C('{"action": "type", "text": "hello"}'), MAP).action == TypeText("hello")
    assert GEN.parse(C('{"action": "wait"}'), MAP).action == Wait(3.0)
    assert GEN.parse(C('{"action": "done", "answer": "42"}'), MAP).action == Done("42")
    assert GEN.parse(C('{"action_type": "status", "goal_status": "infeasible"}'), MAP).action.kind == "fail"
    assert GEN.parse(C('{"action_type": "answer", "text": "3 trains"}'), MAP).action == Done("3 trains")
    assert GEN.parse(C('{"name": "terminate", "arguments": {"status": "failure"}}'), MAP).action == Fail("failure")
    assert GEN.parse(C('{"action": "fail", "reason": "no trains"}'), MAP).action == Fail("no trains")


def test_generic_points_pixels_fractions_and_boxes():
    assert GEN.parse(C('{"action": "click", "x": 640, "y": 360}'), MAP).action == Click(960, 540)
    assert GEN.parse(C('{"action": "click", "coordinate": [640, 360]}'), MAP).action == Click(960, 540)
    assert GEN.parse(C('{"action": "double_click", "x": 0.5, "y": 0.5}'), MAP).action == Click(960, 540, clicks=2)
    assert GEN.parse(C('{"action": "click", "box_2d": [[400, 400, 600, 600]]}'), MAP).action == Click(960, 540)
    assert GEN.parse(C('{"action": "drag", "start": [0, 0], "end": [640, 360]}'), MAP).action == Drag(0, 0, 960, 540)
    assert GEN.parse(C('{"action": "click", "mark": 1, "x": 5, "y": 5}'), MAP, elements=SOM).element is not None


@pytest.mark.parametrize("text,match", [
    ('{"action": "click", "x": 1281, "y": 5}', "outside the 1280x720 screenshot"),
    ('{"action": "click", "mark": 9}', "no element '9' in the list"),
    ('{"action": "click"}', "needs a mark/element from the list or x and y"),
    ('{"action": "type", "x": 3, "y": 4, "text": "a"}', "not a point"),
    ('{"action": "select", "mark": 2}', "needs the option"),
    ('{"action": "fly"}', "Unknown action 'fly'"),
    ('{"action": "scroll", "direction": "sideways"}', "direction"),
    ('{"action": "wait", "seconds": 900}', "wait seconds"),
    ('{"action": "click", "mark": 1} then {"action": "click", "mark": 2}', "more than one different action"),
    ("I would click the Pay button.", "No action found"),
    ('{"memory": ["not an action"]}', "No action found"),
])
def test_generic_errors_tell_the_model_what_to_write(text, match):
    with pytest.raises(ParseError, match=match) as e:
        GEN.parse(C(text), MAP, elements=SOM)
    assert e.value.internal is None and '{"action": "click", "mark": 3}' in str(e.value)
    with pytest.raises(ParseError, match="ended inside <think>"):
        GEN.parse(C("<think>still thinking"), MAP)


def test_generic_same_action_twice_is_one():
    s = GEN.parse(C('{"action": "click", "mark": 2}\nAction: {"action": "click", "mark": 2}'), MAP, elements=SOM)
    assert s.element.mark is SOM.marks[1]


def test_generic_without_a_list_names_no_elements():
    with pytest.raises(ParseError, match="shows no element list"):
        GEN.parse(C('{"action": "click", "mark": 1}'), MAP)


def test_json_objects_is_bounded_on_junk():
    assert json_objects('{"a": 1} x {"b": {"c": 2}}') == [(0, 8, {"a": 1}), (11, 26, {"b": {"c": 2}})]
    assert len(json_objects("{" * 100_000)) == 0
    assert json_objects("{'a': 'b'} {no") == [(0, 10, {"a": "b"})]


def test_generic_prompt_with_marks_elements_and_plain():
    hist = [HistoryEntry("Open the list.", '{"action": "click", "mark": 2} -> combobox \'Passengers\'', None,
                         feedback="the screen did not change")]
    msg = GEN.build_messages("Book a train", png(1280, 720), hist, feedback="bad json", elements=SOM)
    assert len(msg) == 1 and isinstance(msg[0].content[-1], ImagePart)
    text = msg[0].content[0].text
    assert "with a numbered mark on every interactive element" in text and HEADER in text
    assert '{"action": "click", "mark": <n>}' in text and "(173,147)" in text  # centres in screenshot pixels
    assert "step 1: Open the list. -> {\"action\": \"click\", \"mark\": 2}" in text and "did not change" in text
    assert "never instructions" in text and "bad json" in text
    ids = GEN.build_messages("Book", png(1280, 720), [], elements=IDS)[0].content[0].text
    assert '"element": "<id>"' in ids and "\ncb94ed9c\tcombobox\tFrom" in ids and "numbered mark" not in ids
    long = GEN.build_messages("Book", png(1280, 720), hist * 20, elements=SOM)[0].content[0].text
    assert "(steps 1-5 left out)" in long and "step 6:" in long and "step 20:" in long and "step 5:" not in long
    plain = GEN.build_messages("Book", png(1280, 720), [])[0].content[0].text
    assert HEADER not in plain and '"x": 120, "y": 48' in plain and '"mark"' not in plain


def test_generic_action_text_round_trips():
    for a in (Click(960, 540), Click(960, 540, clicks=2), TypeText("hi"), KeyPress("enter"), Hotkey(("ctrl", "a")),
              Scroll(dy=-5, x=960, y=540), Done("x"), Fail("no"), Wait(3.0), MoveTo(960, 540),
              Drag(0, 0, 960, 540)):
        assert GEN.parse(C(GEN.action_text(a, MAP)), MAP).action == a


# --- GLM-4.5V, GLM-4.1V and UI-TARS with element ids --------------------------------------------

def test_glm_element_ids_and_marks():
    s = GLM.parse(C("Type the origin.\n<|begin_of_box|>type(content='Ber', element='cb94ed9c')<|end_of_box|>\n"
                    "Memory:\n[]"), MAP, elements=IDS)
    assert s.element.kind == "type" and s.element.text == "Ber" and s.action == Click(260, 220, target="combobox 'From'")
    assert s.action_text == "type(content='Ber', element='cb94ed9c') -> combobox 'From'"
    s = GLM.parse(C("select(element='24f381b2', option='2 passengers')"), MAP, elements=IDS)
    assert (s.element.kind, s.element.text) == ("select", "2 passengers")
    assert GLM.parse(C("left_double_click(element='5')"), MAP, elements=SOM).action.clicks == 2
    assert GLM.parse(C("scroll(element='3', direction='down', step=2)"), MAP, elements=SOM).action == \
        Scroll(dy=-2, x=749, y=274)
    # a point still works beside a list
    assert GLM.parse(C("left_click(start_box='[500,500]')"), MAP, elements=IDS).action == Click(960, 540)
    with pytest.raises(ParseError, match="no element 'deadbeef'"):
        GLM.parse(C("left_click(element='deadbeef')"), MAP, elements=IDS)
    with pytest.raises(ParseError, match="shows no element list"):
        GLM.parse(C("left_click(element='cb94ed9c')"), MAP)
    with pytest.raises(ParseError, match="more than one different action"):
        GLM.parse(C("<|begin_of_box|>left_click(element='1')<|end_of_box|> left_click(element='2')"), MAP, elements=SOM)


def test_glm_prompt_gets_an_elements_section_only_with_a_list():
    plain = GLM.build_messages("g", png(64, 32), [])[0].content[0].text
    with_list = GLM.build_messages("g", png(64, 32), [], elements=IDS)[0].content[0].text
    assert "# Screen Elements" not in plain
    assert with_list.replace(with_list[with_list.index("\n# Screen Elements"):with_list.index("\nCurrent Screenshot:")],
                             "") == plain
    assert "left_click(element='<id>')" in with_list and "\ncb94ed9c\tcombobox\tFrom" in with_list


def test_glm41v_prompt_images_first_history_oldest_first():
    hist = [HistoryEntry(f"thought {i}", f"left_click(start_box='[{i},{i}]')", png(200, 100 + i), memory=f'["m{i}"]')
            for i in range(6)]
    cur = png(300, 200)
    parts = GLM41.build_messages("Rename the file", cur, hist, feedback="try again", elements=SOM)[0].content
    assert parts[0] is cur and isinstance(parts[-1], TextPart)
    assert [(p.width, p.height) for p in parts[1:-1]] == [(100, 51), (100, 51), (100, 52), (100, 52)]
    text = parts[-1].text
    assert text.startswith("You are a GUI operation agent.") and "normalized to 0-1000" in text
    assert "step 1: thought 0\nleft_click(start_box='[0,0]')" in text and "step 6: thought 5" in text
    assert 'Memory:\n["m5"]\nNote: You will also see 4 recent historical screenshots' in text
    assert "# Screen Elements" in text and "try again" in text and "never instructions" in text
    assert "password" not in text and "full authority" not in text


def test_glm41v_reads_the_memory_tag_and_the_glm_answer():
    s = GLM41.parse(C("<think>ok</think><answer>Click OK. <|begin_of_box|>left_click(start_box='[500,500]')"
                      "<|end_of_box|><memory>[\"x\"]</memory></answer>"), MAP)
    assert s.action == Click(960, 540) and s.memory == '["x"]' and s.thought == "Click OK."
    with pytest.raises(ParseError) as e:
        GLM41.parse(C("<memory>[]</memory> nothing"), MAP)
    assert e.value.raw == "<memory>[]</memory> nothing"


def test_uitars_elements_in_the_last_turn_in_resized_pixels():
    msgs = TARS.build_messages("g", png(1280, 720), [], elements=SOM)
    last = msgs[-1].content
    text = next(p.text for p in last if isinstance(p, TextPart) and HEADER in p.text)
    h, w = smart_resize(720, 1280)
    cx, cy = MAP.screen_to_resized(260, 220, (w, h))
    assert f"({round(cx)},{round(cy)})" in text
    s = TARS.parse(C("Thought: pick it\nAction: type(content='Ber', element='1')"), MAP, elements=SOM)
    assert s.element.kind == "type" and s.element.mark.name == "From"
    assert TARS.parse(C("Action: select(element='2', option='2 passengers')"), MAP, elements=SOM).element.kind == "select"
    assert isinstance(TARS.parse(C("Action: select(start_box='(1,2)', end_box='(3,4)')"), MAP).action, Drag)


@pytest.mark.parametrize("name,cls", [("generic", GenericFamily), ("gemma-3", GenericFamily), ("Step-3", GenericFamily),
                                      ("kimi-vl", GenericFamily), ("glm-4.1v-thinking", Glm41vFamily),
                                      ("glm41v", Glm41vFamily), ("qwen2.5-vl", UITarsFamily)])
def test_registry_aliases(name, cls):
    assert type(get_family(name)) is cls


# --- observe modes, element candidates, settings -------------------------------------------------

def test_observe_mode_names():
    assert observe_mode("SOM") == "som" and observe_mode("set-of-marks") == "som"
    assert observe_mode("screenshot+a11y") == "screenshot+elements" and observe_mode("elements") == "screenshot+elements"
    with pytest.raises(ValueError, match="screenshot, screenshot\\+elements, som"):
        observe_mode("video")


def test_candidates_are_visible_interactive_elements_and_disabled_is_shown():
    from agent.observe import _mark

    els = (Element("button", "Previous month", Rect(100, 100, 40, 30), source="a11y", states=frozenset()),
           Element("button", "Next month", Rect(200, 100, 40, 30), source="a11y", states=frozenset({"enabled"})),
           Element("heading", "December 2026", Rect(150, 100, 40, 30), source="a11y"),
           Element("button", "Off screen", Rect(2000, 100, 40, 30), source="a11y"),
           Element("button", "Tiny", Rect(300, 100, 1, 30), source="a11y"),
           Element("button", "OK", Rect(400, 100, 40, 30), source="visual"))
    got = candidates(ScreenModel(els, Rect(0, 0, 1280, 800)))
    assert [e.name for e in got] == ["Previous month", "Next month", "OK"]
    assert "disabled" in _mark(got[0], "1").states and "disabled" not in _mark(got[1], "2").states
    assert "disabled" not in _mark(got[2], "3").states  # pixels cannot say


def test_settings_observe_from_file_env_and_flag(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[model]\nurl = "http://x/v1"\nobserve = "som"\nelement_tokens = 900\nfamily = "generic"\n')
    s = load_settings({}, env={}, path=cfg)
    assert (s.observe, s.element_tokens, s.family) == ("som", 900, "generic")
    assert load_settings({}, env={"AGENT_OBSERVE": "elements"}, path=cfg).observe == "screenshot+elements"
    assert load_settings({"observe": "screenshot"}, env={"AGENT_OBSERVE": "som"}, path=cfg).observe == "screenshot"
    assert "observe som" in s.describe()
    with pytest.raises(ModelError, match="unknown observation mode 'marks'.*AGENT_OBSERVE"):
        load_settings({"observe": "marks"}, env={}, path=cfg)
    with pytest.raises(ModelError, match="element_tokens"):
        load_settings({"element_tokens": 5}, env={}, path=cfg)


def test_view_record_keeps_the_list_its_size_and_hash():
    from agent.observe import View

    v = View("som", png(8, 8), SOM)
    rec = v.record()["observation"]
    assert rec["mode"] == "som" and rec["listed"] == 5 and rec["omitted"] == 0 and rec["list"] == render_table(SOM)
    assert rec["sha"] == SOM.digest() and rec["tokens"] == estimate_tokens(render_table(SOM))
    assert View("screenshot", png(8, 8)).record() == {}
    json.dumps(rec)
