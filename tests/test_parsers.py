"""Model families: prompts and parsers (GLM-4.5V, GLM-4.1V, UI-TARS-1.5, generic). Fast, no display."""

from __future__ import annotations

import hashlib
import random
import time

import pytest
from PIL import Image

from actions.coords import ImageMap, Rect
from actions.space import Click, Done, Drag, Fail, Hotkey, KeyPress, MoveTo, Scroll, TypeText, Wait
from model.base import Completion, ImagePart, TextPart
from model.families import get_family
from model.family import HistoryEntry, ParsedStep, ParseError, half_size
from model.generic import GenericFamily
from model.glm41v import Glm41vFamily
from model.glm45v import Glm45vFamily
from model.glm45v_prompt import PC_ACTION_SPACE
from model.marks import ElementList, Mark
from model.uitars import UITarsFamily, add_box_token, smart_resize

GLM = Glm45vFamily()
TARS = UITarsFamily()
GEN = GenericFamily()
GLM41 = Glm41vFamily()
# a 1920x1080 screen captured and downscaled to 1280x720
MAP = ImageMap(Rect(0, 0, 1920, 1080), 1280, 720)
TARS_RESIZED = (1288, 728)  # smart_resize of 1280x720 (w, h)
# three listed elements, named "1".."3" (as in --observe som): the parsers' element paths get fuzzed too
MARKS = ElementList(tuple(Mark(str(i), f"e{i}", "button", f"B{i}", Rect(100 * i, 50, 80, 30)) for i in (1, 2, 3)),
                    "marks", MAP, total=3)
FAMILIES = [GLM, TARS, GEN, GLM41]
FAMILY_IDS = ["glm45v", "uitars", "generic", "glm41v"]


def C(text: str, reasoning: str | None = None) -> Completion:
    return Completion(text=text, model="test", latency_s=0.0, reasoning=reasoning)


def glm(text: str, reasoning: str | None = None, image_map: ImageMap = MAP) -> ParsedStep:
    return GLM.parse(C(text, reasoning), image_map)


def tars(text: str, reasoning: str | None = None, image_map: ImageMap = MAP) -> ParsedStep:
    return TARS.parse(C(text, reasoning), image_map)


def png(w: int, h: int, fmt: str = "png") -> ImagePart:
    return ImagePart.from_image(Image.new("RGB", (w, h), (40, 90, 160)), fmt)


# --- registry ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,cls", [("glm45v", Glm45vFamily), ("GLM", Glm45vFamily), ("glm-4.5v", Glm45vFamily),
                                      ("uitars", UITarsFamily), ("ui-tars", UITarsFamily),
                                      ("qwen25vl", UITarsFamily)])
def test_get_family(name, cls):
    assert isinstance(get_family(name), cls)


def test_get_family_unknown_lists_names():
    with pytest.raises(ValueError, match="glm45v.*uitars|uitars.*glm45v"):
        get_family("gpt-4o")


# --- GLM-4.5V parser ---------------------------------------------------------------------------

WELL_FORMED = ("<think>The dialog asks to save. I should press OK.</think>I can see a save dialog. I'll click "
               "the OK button.\n<|begin_of_box|>left_click(start_box='[500,250]', element_info='OK button')"
               "<|end_of_box|>\nMemory:\n[{\"file\": \"report.txt\"}]")


def test_glm_well_formed():
    s = glm(WELL_FORMED)
    assert s.action == Click(960, 270, "left", 1, target="OK button")
    assert s.thought == "I can see a save dialog. I'll click the OK button."
    assert s.action_text == "left_click(start_box='[500,250]', element_info='OK button')"
    assert s.memory == '[{"file": "report.txt"}]'
    assert s.reasoning == "The dialog asks to save. I should press OK."


def test_glm_answer_wrapper_and_reasoning_field():
    s = glm("<answer>Click it. left_click(start_box='[500,250]')\nMemory:\n[]</answer>", reasoning="split off")
    assert s.action == Click(960, 270) and s.reasoning == "split off" and s.memory == "[]"
    assert s.thought == "Click it."


@pytest.mark.parametrize("text", ["<think>I should click OK but let me think more.</think>",
                                  "<think>thinking forever, never closed", "", "   \n"])
def test_glm_thinking_only_is_parse_error(text):
    with pytest.raises(ParseError) as e:
        glm(text)
    assert e.value.raw == text and e.value.internal is None


def test_glm_reasoning_only_in_field_is_parse_error():
    with pytest.raises(ParseError):
        glm("", reasoning="I'd click OK")


@pytest.mark.parametrize("box", ["'[500,250]'", "'[[500,250]]'", "'(500,250)'", "'<500,250>'", '"[500, 250]"',
                                 "[500,250]", "(500,250)", "<500,250>", "'[ 500 , 250 ]'", "'[400,200,600,300]'",
                                 "'<|begin_of_box|>[500,250]<|end_of_box|>'"])
def test_glm_bracket_and_quote_styles(box):
    assert glm(f"Click. left_click(start_box={box}, element_info='x')").action == Click(960, 270, target="x")


def test_glm_bare_action_without_box_tokens():
    s = glm("I will open the menu.\nright_click(start_box='[500,250]')\nMemory:\n[]")
    assert s.action == Click(960, 270, "right") and s.thought == "I will open the menu."


@pytest.mark.parametrize("box", ["'[1001,5]'", "'[-1,5]'", "'[5,1500]'", "'[0,0,2000,10]'"])
def test_glm_out_of_range(box):
    with pytest.raises(ParseError, match="0-999"):
        glm(f"left_click(start_box={box})")


def test_glm_1000_is_tolerated():
    assert glm("left_click(start_box='[1000,1000]')").action == Click(1919, 1079)  # the last pixel, not one past it


def test_glm_two_different_actions():
    for text in ["<|begin_of_box|>left_click(start_box='[1,2]')<|end_of_box|> "
                 "<|begin_of_box|>type(content='x')<|end_of_box|>",
                 "left_click(start_box='[1,2]') and then right_click(start_box='[1,2]')",
                 "I'll type(content='a') <|begin_of_box|>type(content='b')<|end_of_box|>"]:
        with pytest.raises(ParseError, match="exactly one action"):
            glm(text)


def test_glm_same_action_repeated_is_fine():
    s = glm("I will left_click(start_box='[500,250]').\n<|begin_of_box|>left_click(start_box=\"[500, 250]\")"
            "<|end_of_box|>\nMemory:\n[]")
    assert s.action == Click(960, 270)


@pytest.mark.parametrize("text", ["garbage", "!!!", "left_click", "left_click(start_box='[1,2]'",
                                  "left_click(start_box='[a,b]')", "left_click()", "frobnicate(x=1)",
                                  "<|begin_of_box|>[100,200,300,400]<|end_of_box|>", "DONE", "scroll(start_box='[1,2]')",
                                  "key(keys='nosuchkey')", "scroll(start_box='[1,2]', direction='up', step=0)",
                                  "type(content='')"])
def test_glm_garbage(text):
    with pytest.raises(ParseError) as e:
        glm(text)
    assert e.value.internal is None and str(e.value)


def test_glm_unknown_action_lists_valid_ones():
    with pytest.raises(ParseError, match="left_click.*scroll.*WAIT"):
        glm("double_tap(start_box='[1,2]')")


def test_glm_type_escapes():
    s = glm(r"type(content='line one\nit\'s\ttabbed \\ done')")
    assert s.action == TypeText("line one\nit's\ttabbed \\ done")
    assert glm("type(content='it's unescaped')").action == TypeText("it's unescaped")
    assert glm('type(content="say \\"hi\\"")').action == TypeText('say "hi"')


def test_glm_drag_hover_double():
    assert glm("left_drag(start_box='[0,0]', end_box='[500,500]')").action == Drag(0, 0, 960, 540)
    assert glm("hover(start_box='[500,250]')").action == MoveTo(960, 270)
    assert glm("left_double_click(start_box='[500,250]')").action == Click(960, 270, "left", 2)
    assert glm("middle_click(start_box='[500,250]')").action == Click(960, 270, "middle")


def test_glm_scroll():
    assert glm("scroll(start_box='[500,500]', direction='up', step=3)").action == Scroll(dy=3, x=960, y=540)
    assert glm("scroll(start_box='[500,500]', direction='down')").action == Scroll(dy=-5, x=960, y=540)
    assert glm("scroll(start_box='[500,500]', direction='left', step=2)").action == Scroll(dx=-2, x=960, y=540)
    assert glm("scroll(direction='down', step='4')").action == Scroll(dy=-4)


def test_glm_keys():
    assert glm("key(keys='ctrl+c')").action == Hotkey(("ctrl", "c"))
    assert glm("key(keys='ctrl+shift+t')").action == Hotkey(("ctrl", "shift", "t"))
    assert glm("key(keys='Return')").action == KeyPress("enter")
    assert glm("key(keys='alt+tab')").action == Hotkey(("alt", "tab"))


def test_glm_terminal_and_wait():
    assert glm("WAIT()").action == Wait(5.0)
    assert glm("DONE()").action == Done()
    assert glm("The file is saved. DONE(answer='42')").action == Done("42")
    assert glm("FAIL()").action == Fail("")
    assert glm("<|begin_of_box|>DONE()<|end_of_box|>").action_text == "DONE()"


def test_glm_monitor_offset():
    right = ImageMap(Rect(1920, 0, 1280, 800), 1280, 800)
    assert glm("left_click(start_box='[500,250]')", image_map=right).action == Click(2560, 200)
    half = ImageMap(Rect(1920, 0, 1280, 800), 640, 400)  # downscaled: same thousandths, same point
    assert glm("left_click(start_box='[500,250]')", image_map=half).action == Click(2560, 200)
    left = ImageMap(Rect(-1280, 0, 1280, 1024), 1280, 1024)
    assert glm("left_click(start_box='[0,0]')", image_map=left).action == Click(-1280, 0)


def test_glm_memory_not_confused_by_typed_text():
    s = glm("Type it. type(content='Memory: none')\nMemory:\n[]")
    assert s.action == TypeText("Memory: none") and s.memory == "[]" and s.thought == "Type it."


def test_glm_action_text_round_trip():
    for a in [Click(960, 270, target="OK"), Click(960, 270, "right"), Click(960, 270, "left", 2), MoveTo(960, 270),
              Drag(0, 0, 960, 540), Hotkey(("ctrl", "c")), KeyPress("enter"), TypeText("a 'b'\nc\\"),
              Scroll(dy=-3, x=960, y=540), Scroll(dx=2), Wait(5.0), Done(), Done("x"), Fail("")]:
        text = GLM.action_text(a, MAP)
        assert glm(text).action == a, text


def test_glm_action_text_outside_space():
    from actions.space import KeyDown
    assert "outside" in GLM.action_text(KeyDown("shift"), MAP)


def test_pc_action_space_is_the_official_text():
    # sha256 of PC_ACTION_SPACE in zai-org/GLM-V examples/gui-agent/glm-45v/agent.md @8fc9756
    assert hashlib.sha256(PC_ACTION_SPACE.encode()).hexdigest() == \
        "233f7a73359e746dde51772895010c4ea026f3553343b11811daaf70ba65f1e8"


def test_glm_box_tokens_nested_inside_the_action_box():
    s = glm("<|begin_of_box|>left_click(start_box='<|begin_of_box|>[500,250]<|end_of_box|>')<|end_of_box|>")
    assert s.action == Click(960, 270) and s.action_text == "left_click(start_box='[500,250]')"


def test_glm_same_point_different_description_is_one_action():
    s = glm("I'll left_click(start_box='[500,250]') on OK. "
            "<|begin_of_box|>left_click(start_box='[500,250]', element_info='OK')<|end_of_box|>")
    assert s.action == Click(960, 270, target="OK")


def test_glm_prose_is_not_an_action():
    with pytest.raises(ParseError):  # never read as type(content='s')
        glm("The Type(s) column and the Key(s) list are visible. Scroll(ing) is needed.")


def test_glm_memory_before_action():
    s = glm("Memory:\n[]\nReason: the dialog is open.\nAction: left_click(start_box='[500,250]')")
    assert s.action == Click(960, 270) and s.memory.startswith("[]") and "left_click" not in s.memory


def test_glm_calls_in_memory_are_not_actions():
    s = glm("Click OK. left_click(start_box='[500,250]')\nMemory:\n[{\"tried\": \"right_click(start_box='[1,1]')\"}]")
    assert s.action == Click(960, 270) and "right_click" in s.memory


def test_glm_lowercase_terminal_names():
    assert glm("done()").action == Done() and glm("wait()").action == Wait(5.0)


ADVERSARIAL = ["<|begin_of_box|>" * 12_000, "left_click(start_box='1 2" + " " * 100_000 + "x')", "a" * 190_000,
               "left_click(" * 18_000, "type(content='a' x " * 10_000, "a(" * 99_000, "type(x=1 'q' " * 15_000,
               "left_click(start_box=[" * 9_000, "click(start_box='(1,2)" + "' " * 80_000, "Memory:" * 25_000,
               "x" + " " * 100_000 + "WAIT()", "WAIT() " * 20_000, "<think>" * 20_000, "x" * 300_000,
               "{" * 150_000, '{"a":' * 30_000, '{"action": [' + "[" * 100_000, '{"' + "a" * 190_000,
               '{"action": "click", "mark": ' + "9" * 100_000 + "}", "{'a': " * 30_000, '{"x": 1} ' * 20_000,
               "click(mark=" * 15_000, '{"name": "click", "arguments": "' + "{" * 100_000 + '"}']


@pytest.mark.parametrize("family", FAMILIES, ids=FAMILY_IDS)
def test_adversarial_inputs_stay_fast(family):
    # each of these once took seconds to minutes through a backtracking regex or a rescanning loop; a
    # linear parse takes well under 0.1 s each, so 2 s apiece only trips on a blow-up, not a busy machine
    for text in ADVERSARIAL:
        t0 = time.monotonic()
        try:
            family.parse(C(text), MAP, elements=MARKS)
        except ParseError as e:
            assert e.internal is None, (text[:80], repr(e.internal))
        assert time.monotonic() - t0 < 2, text[:80]


# --- GLM-4.5V prompt ---------------------------------------------------------------------------

def _history(n: int, *, boxed: bool = True) -> list[HistoryEntry]:
    out = []
    for i in range(n):
        act = f"left_click(start_box='[{100 + i},{200 + i}]', element_info='item {i}')"
        out.append(HistoryEntry(thought=f"thought {i}",
                                action_text=f"<|begin_of_box|>{act}<|end_of_box|>" if boxed else act,
                                image=png(200, 100), memory=f'[{{"step": {i}}}]'))
    return out


def test_glm_build_messages_history():
    cur = png(200, 100)
    msgs = GLM.build_messages("Rename report.txt to final.txt", cur, _history(6), feedback="screen did not change")
    assert len(msgs) == 1 and msgs[0].role == "user"
    parts = msgs[0].content
    images = [p for p in parts if isinstance(p, ImagePart)]
    assert len(images) == 5
    assert all((im.width, im.height) == (100, 50) for im in images[:4])
    assert parts[-1] is cur
    text = "".join(p.text for p in parts if isinstance(p, TextPart))
    assert "Rename report.txt to final.txt" in text
    assert text.count("(Omitted in context.)") == 2
    assert "step 1: Screenshot:(Omitted in context.) Thought: thought 0" in text
    assert "step 6: Screenshot:" in text and "Action: left_click(start_box='[105,205]', element_info='item 5')" in text
    assert "<|begin_of_box|>" not in text and "<|end_of_box|>" not in text
    assert 'Memory:\n[{"step": 5}]' in text  # only the latest memory is carried forward
    assert "screen did not change" in text and "# Feedback on your previous output" in text
    assert "never instructions" in text
    assert text.rstrip().endswith("Current Screenshot:")
    assert "password" not in text  # OSWorld-only notes are not copied


def test_glm_build_messages_no_history():
    msgs = GLM.build_messages("Open the terminal", png(64, 32), [])
    parts = msgs[0].content
    assert len(parts) == 2 and isinstance(parts[1], ImagePart)
    assert "History:\nMemory:\n[]" in parts[0].text and "Feedback" not in parts[0].text


def test_glm_history_step_feedback_and_missing_image():
    h = [HistoryEntry("t", "FAIL()", None, feedback="your last output could not be parsed")]
    text = GLM.build_messages("g", png(10, 10), h)[0].content[0].text
    assert "(Omitted in context.) Thought: t\nAction: FAIL()\nFeedback: your last output could not be parsed" in text


def test_half_size_keeps_format():
    small = half_size(png(201, 100, "jpeg"))
    assert small.mime == "image/jpeg" and (small.width, small.height) == (100, 50)
    assert small.to_pil().size == (100, 50)


# --- UI-TARS -----------------------------------------------------------------------------------

def test_smart_resize_matches_official():
    assert smart_resize(1080, 1920) == (1092, 1932)
    assert smart_resize(720, 1280) == (728, 1288)
    assert smart_resize(10, 10) == (280, 280)  # raised to min_pixels
    h, w = smart_resize(8000, 12000)  # cut to max_pixels
    assert h % 28 == 0 and w % 28 == 0 and h * w <= 16384 * 28 * 28
    with pytest.raises(ValueError):
        smart_resize(10, 3000)


def test_tars_well_formed_and_mapping():
    s = tars("Thought: The OK button is in the middle.\nAction: click(start_box='<|box_start|>(644,364)<|box_end|>')")
    assert s.action == Click(960, 540)
    assert s.thought == "The OK button is in the middle."
    assert s.action_text == "click(start_box='(644,364)')" and s.memory is None


def test_tars_monitor_offset():
    right = ImageMap(Rect(1920, 0, 1280, 800), 1280, 800)  # smart_resize -> 1288x812
    assert tars("Action: click(start_box='(644,406)')", image_map=right).action == Click(2560, 400)


@pytest.mark.parametrize("box", ["'(644,364)'", "'<|box_start|>(644,364)<|box_end|>'", "'[644,364]'",
                                 "'[600,300,688,428]'", "(644,364)"])
def test_tars_bracket_styles(box):
    assert tars(f"Thought: t\nAction: click(start_box={box})").action == Click(960, 540)


def test_tars_point_syntax():
    assert tars("Action: click(point='<point>644 364</point>')").action == Click(960, 540)


def test_tars_bare_action_and_reasoning():
    s = tars("left_double(start_box='(644,364)')", reasoning="thinking")
    assert s.action == Click(960, 540, "left", 2) and s.reasoning == "thinking"
    assert tars("<think>hm</think>Thought: t\nAction: wait()").reasoning == "hm"


@pytest.mark.parametrize("text", ["Thought: I need to click the button.", "<think>only thinking</think>", "",
                                  "Action: click(start_box='(2000,10)')", "Action: click(start_box='(-5,10)')",
                                  "Action: click(start_box='(1,2)')\n\nclick(start_box='(3,4)')",
                                  "Action: tap(start_box='(1,2)')", "Action: click(start_box='(1,2)'",
                                  "Action: scroll(start_box='(1,2)', direction='sideways')",
                                  "Action: hotkey(key='')", "random junk ((( ''' ]]]",
                                  "Action: click(start_box='(1,2)')\nAction: type(content='x')"])
def test_tars_errors(text):
    with pytest.raises(ParseError) as e:
        tars(text)
    assert e.value.internal is None


def test_tars_actions():
    assert tars("Action: right_single(start_box='(644,364)')").action == Click(960, 540, "right")
    assert tars("Action: drag(start_box='(0,0)', end_box='(644,364)')").action == Drag(0, 0, 960, 540)
    assert tars("Action: hotkey(key='ctrl c')").action == Hotkey(("ctrl", "c"))
    assert tars("Action: hotkey(key='enter')").action == KeyPress("enter")
    assert tars(r"Action: type(content='hello\nit\'s me')").action == TypeText("hello\nit's me")
    assert tars("Action: scroll(start_box='(644,364)', direction='up')").action == Scroll(dy=5, x=960, y=540)
    assert tars("Action: scroll(start_box='(644,364)', direction='down')").action == Scroll(dy=-5, x=960, y=540)
    assert tars("Action: scroll(start_box='(644,364)', direction='right')").action == Scroll(dx=5, x=960, y=540)
    assert tars("Action: wait()").action == Wait(5.0)
    assert tars("Action: finished(content='all done')").action == Done("all done")
    assert tars("Action: finished()").action == Done()
    assert tars("Action: call_user()").action == Fail("needs the user")


def test_tars_action_text_round_trip():
    for a in [Click(960, 540), Click(960, 540, "right"), Click(960, 540, "left", 2), Drag(0, 0, 960, 540),
              Hotkey(("ctrl", "c")), KeyPress("enter"), TypeText("a 'b'\nc"), Scroll(dy=-5, x=960, y=540),
              Wait(5.0), Done("x"), Fail("needs the user")]:
        assert tars("Action: " + TARS.action_text(a, MAP)).action == a


def test_tars_build_messages():
    cur = png(200, 100)
    hist = _history(6, boxed=False)
    hist[5] = HistoryEntry("t5", "click(start_box='(10,20)')", png(200, 100), feedback="screen did not change")
    msgs = TARS.build_messages("Open settings", cur, hist, feedback="your last output could not be parsed")
    assert msgs[0].role == "user" and "Open settings" in msgs[0].content[0].text
    assert "never instructions" in msgs[0].content[0].text
    images = [p for m in msgs for p in m.content if isinstance(p, ImagePart)]
    assert len(images) == 5 and msgs[-1].content[-1] is cur
    assistants = [m for m in msgs if m.role == "assistant"]
    assert len(assistants) == 6
    assert assistants[-1].content[0].text == "Thought: t5\nAction: click(start_box='<|box_start|>(10,20)<|box_end|>')"
    last_texts = [p.text for p in msgs[-1].content if isinstance(p, TextPart)]
    assert any("screen did not change" in t for t in last_texts)
    assert any("could not be parsed" in t for t in last_texts)
    roles = [m.role for m in msgs]
    assert roles[:3] == ["user", "assistant", "assistant"]  # old steps: text only, no screenshot turn


def test_add_box_token():
    assert add_box_token("drag(start_box='(1,2)', end_box='(3, 4)')") == \
        "drag(start_box='<|box_start|>(1,2)<|box_end|>', end_box='<|box_start|>(3,4)<|box_end|>')"


# --- fuzz --------------------------------------------------------------------------------------

_PIECES = ["left_click(", "right_click(", "left_drag(", "key(", "type(", "scroll(", "WAIT()", "DONE(", "FAIL()",
           "click(", "left_double(", "drag(", "hotkey(", "finished(", "call_user()", "wait()", "foo(", "start_box=",
           "end_box=", "element_info=", "content=", "keys=", "key=", "direction=", "step=", "point=", "'", '"',
           "[", "]", "[[", "]]", "(", ")", "<", ">", ",", " ", "\n", "\\", "\\n", "\\'", "=", "up", "down",
           "<|begin_of_box|>", "<|end_of_box|>", "<|box_start|>", "<|box_end|>", "<point>", "</point>", "<think>",
           "</think>", "<answer>", "</answer>", "Thought: ", "Action: ", "Memory:", "ctrl+c", "ctrl c", "-",
           "1e9", ".", "é", "漢字", "🖱️", "\x00", "\u202e", "999", "1000", "0", "500", "250", "12345678901234567890",
           "{", "}", '"action"', '"action_type"', ": ", '"click"', '"type"', '"select"', '"mark"', '"element"', '"x"',
           '"y"', '"text"', '"option"', '"name"', '"arguments"', "element=", "mark=", "option=", "select(", "null",
           "true", '{"action": "click", "mark": 2}', '{"action": "done"}', "<tool_call>", "```json", "'1'", "'e1'"]


def _random_text(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.003:  # very long
        return "".join(rng.choice(_PIECES) for _ in range(rng.randint(5_000, 20_000)))
    if r < 0.1:
        return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 200)))
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 40))) + str(rng.randint(0, 2000))


@pytest.mark.parametrize("family", FAMILIES, ids=FAMILY_IDS)
def test_fuzz_only_parse_errors(family):
    rng = random.Random(1234)
    t0 = time.monotonic()
    ok = 0
    for _ in range(10_000):
        text = _random_text(rng)
        try:
            step = family.parse(C(text, reasoning=rng.choice([None, "r"])), MAP, elements=rng.choice([None, MARKS]))
        except ParseError as e:
            assert e.internal is None, (text[:300], repr(e.internal))
            assert isinstance(str(e), str) and e.raw == text
        else:
            assert isinstance(step, ParsedStep)
            ok += 1
    assert time.monotonic() - t0 < 10
    assert ok > 0  # the mix produces some valid actions too
