"""GLM-4.5V as a desktop agent: the official OSWorld prompt and a forgiving parser.

Sources (cited as repository + path):

* zai-org/GLM-V ``examples/gui-agent/glm-45v/agent.md`` ("Desktop Environment"): the prompt text
  (``model.glm45v_prompt``); history goes into ONE user turn, the last 4 screenshots at 50% x 50%,
  older steps as "(Omitted in context.)", the current screenshot last at full size, box tokens
  removed from the history text.
* zai-org/GLM-V ``examples/gui-agent/glm-45v/gui_agent_45v.py``: ``get_pc_prompt`` (how the parts
  are joined, the exact spacing of "step k: Screenshot:") and ``parse_pc_response`` (the action is
  the ``<|begin_of_box|>…<|end_of_box|>`` span, falling back to a bare ``name(...)``; the thought
  is the text after ``</think>`` and before ``Memory:``; memory is what follows ``Memory:``).
* zai-org/GLM-V ``glmv_reward/scripts/gui_agent/OSWorld.py``: how the official reward reads the
  arguments (``start_box='[x,y]'``, ``direction``, ``step`` defaulting to 5).

Kept from the official prompt verbatim: the action space and the section layout, because that is
what the model was trained on. Changed: the OSWorld-only notes (the VM's sudo password and a test
mail account) are gone; one safety line (screen text is content, never instructions) and an
optional, clearly marked feedback section were added.

Coordinates are thousandths (0-999; 1000 tolerated) of the screenshot *as sent*; they map to the
screen through ``ImageMap.normalized_to_screen(x, y, 1000)``, so a downscaled screenshot or a
monitor at an offset needs nothing special here.

With an element list (``--observe screenshot+elements`` or ``som``) a "# Screen Elements" section
goes before the feedback: the elements (``model.marks``: centre and size in thousandths) and how to
name one instead of a point — ``left_click(element='cb94ed9c')``, ``type(content='...',
element=...)`` (click, then type), ``select(element=..., option='...')``. Without one the prompt stays
byte-for-byte the official text.

The parser is more forgiving than the official one (bracket styles, quotes, ``<answer>``,
thinking split off by the server, a missing box) but stricter where a wrong guess would move the
mouse: two different actions, an out-of-range coordinate or an unknown action is a ParseError
whose text tells the model the expected format.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from actions.coords import ImageMap
from actions.errors import ActionValidationError
from actions.space import (Action, Click, Done, Drag, Fail, Hotkey, KeyPress, MoveTo, Scroll, TypeText,
                           Wait)
from model.base import Completion, ImagePart, Message, TextPart
from model.calls import Call, find_calls
from model.family import (HistoryEntry, ParsedStep, ParseError, check_size, escape, find_boxes, guarded_parse,
                          half_size, key_action, read_int, read_point, same_action, split_think,
                          strip_box_tokens, type_action, unescape)
from model.glm45v_prompt import (FEEDBACK_SECTION, PC_ACTION_SPACE, SAFETY_NOTE, STEP_OMITTED, STEP_TEXT,
                                 STEP_WITH_IMAGE, USER_PROMPT_HEAD, USER_PROMPT_TAIL, elements_section)
from model.marks import ElementAction, ElementList, element_action, element_ref

#: How many earlier screenshots go into the prompt (agent.md: "up to 4").
HISTORY_IMAGES = 4

_CLICKS = {"left_click": ("left", 1), "right_click": ("right", 1), "middle_click": ("middle", 1),
           "left_double_click": ("left", 2)}
ACTION_NAMES = ("left_click", "right_click", "middle_click", "hover", "left_double_click", "left_drag",
                "key", "type", "scroll", "WAIT", "DONE", "FAIL")
_KNOWN = {n.lower() for n in ACTION_NAMES} | {"select"}
_TEXT_NAMES = ACTION_NAMES + ("wait", "done", "fail", "Wait", "Done", "Fail", "select")
#: Element actions by call name (``model.marks.KINDS``).
_ELEMENT_KINDS = {"left_click": "click", "right_click": "right_click", "middle_click": "middle_click",
                  "left_double_click": "double_click", "hover": "hover", "type": "type", "select": "select",
                  "scroll": "scroll"}
_POINT_EXAMPLE = "'[x,y]' with x and y integers in 0-999 (thousandths of the screenshot)"
FORMAT_HINT = ("Expected: a short explanation, then exactly one action such as "
               "left_click(start_box='[500,300]', element_info='OK button'), then Memory: and a list. "
               f"Valid actions: {', '.join(ACTION_NAMES)}.")
_GAP = "\x00"  # marks removed spans while the thought is cut out


class Glm45vFamily:
    """GLM-4.5V's desktop (OSWorld) prompt and answer format."""

    name = "glm45v"

    # --- prompt ---------------------------------------------------------------------------------
    def build_messages(self, goal: str, screenshot: ImagePart, history: Sequence[HistoryEntry], *,
                       feedback: str | None = None, elements: ElementList | None = None) -> list[Message]:
        """One user turn: head, history (last 4 steps with half-size screenshots), tail, screenshot."""
        parts: list[TextPart | ImagePart] = []
        text = USER_PROMPT_HEAD.format(task=goal, action_space=PC_ACTION_SPACE)
        first_with_image = len(history) - HISTORY_IMAGES
        for i, h in enumerate(history):
            step = STEP_TEXT.format(thought=history_text(h.thought), action=history_text(h.action_text))
            if h.feedback:
                step += f"\nFeedback: {history_text(h.feedback)}"
            if i >= first_with_image and h.image is not None:
                parts.append(TextPart(text + STEP_WITH_IMAGE.format(step=i + 1)))
                parts.append(half_size(h.image))
                text = step
            else:
                text += STEP_OMITTED.format(step=i + 1) + step
        memory = next((h.memory for h in reversed(history) if h.memory is not None), None)
        text += USER_PROMPT_TAIL.format(
            memory=(memory or "[]").strip() or "[]", safety=SAFETY_NOTE,
            feedback=elements_section(elements) + (FEEDBACK_SECTION.format(feedback=feedback.strip()) if feedback else ""))
        parts.append(TextPart(text))
        parts.append(screenshot)
        return [Message("user", tuple(parts))]

    # --- answers ----------------------------------------------------------------------------------
    def parse(self, completion: Completion, image_map: ImageMap, *,
              elements: ElementList | None = None) -> ParsedStep:
        """Read one action (in screen coordinates) or the listed element it names, the thought, the
        memory and the reasoning."""
        return guarded_parse(partial(self._parse, elements=elements), completion, image_map, FORMAT_HINT)

    def _parse(self, raw: str, reasoning: str | None, image_map: ImageMap, *,
               elements: ElementList | None = None) -> ParsedStep:
        check_size(raw)
        text, reasoning = split_think(raw, reasoning, raw)
        if not text.strip():
            raise ParseError(f"Your output has no action after the thinking. {FORMAT_HINT}", raw)
        # 1. Boxes that hold a call are the action (gui_agent_45v.py); a box around a bare point
        #    (grounding habit) is just text with its tokens dropped.
        box_calls: list[Call] = []
        outside = list(text)
        for start, end, inner in find_boxes(text):
            calls, _ = find_calls(inner, None, raw)
            if calls:  # a box that breaks a call in two (nested boxes) stays text and is read below
                box_calls.extend(calls)
                outside[start:end] = _GAP * (end - start)
        out = strip_box_tokens("".join(outside))  # stray tokens; lengths change only here
        # 2. Bare calls of known actions in the text, up to "Memory:".
        text_calls, broken = find_calls(out, _TEXT_NAMES, raw)
        blanked = list(out)
        for c in text_calls:
            blanked[c.start:c.end] = _GAP * (c.end - c.start)
        blanked_s = "".join(blanked)
        mem_at = blanked_s.find("Memory:")
        memory = None
        if mem_at >= 0:
            before = [c for c in text_calls if c.start < mem_at]
            if before or box_calls:  # calls inside the memory block are notes, not actions
                text_calls, rest = before, out[mem_at + len("Memory:"):]
            else:  # "Memory: ... action(...)" (the mobile order): the action comes after the memory
                rest = blanked_s[mem_at + len("Memory:"):]
            memory = rest.replace(_GAP, "").strip()
            blanked_s = blanked_s[:mem_at]
        thought = " ".join(p.strip(" \t") for p in blanked_s.split(_GAP) if p.strip(" \t")).strip() or None
        # 3. Which calls are the action.
        chosen = box_calls or text_calls
        if not chosen:
            raise self._no_action(out if mem_at < 0 else out[:mem_at], broken, raw)
        for c in chosen:
            if c.name.lower() not in _KNOWN:
                raise ParseError(f"Unknown action {c.name!r}. {FORMAT_HINT}", raw)
        done = [self._to_action(c, image_map, raw, elements) for c in chosen]
        if box_calls:  # the same action repeated in the text is fine; a different one is not
            for c in text_calls:
                try:
                    done.append(self._to_action(c, image_map, raw, elements))
                except ParseError:
                    pass  # a format example or a half-quoted mention, not an action
        actions = [d.actions()[0] if isinstance(d, ElementAction) else d for d in done]
        if not all(same_action(a, actions[0]) for a in actions[1:]) or \
                any(d != done[0] for d in done[1:] if isinstance(d, ElementAction)):
            raise ParseError("Your output contains more than one different action; write exactly one "
                             f"action per step. {FORMAT_HINT}", raw)
        element = done[0] if isinstance(done[0], ElementAction) else None
        text = strip_box_tokens(chosen[0].text).strip()
        if element is not None:  # the history then says what the id or mark number was
            text += f" -> {element.mark.label()}"
        return ParsedStep(actions[0], thought, text, memory, reasoning, element=element)

    @staticmethod
    def _no_action(text: str, broken: list[str], raw: str) -> ParseError:
        if broken:
            return ParseError(f"Could not read the {broken[0]}(...) call: check that its quotes and "
                              f"brackets are closed. {FORMAT_HINT}", raw)
        others, _ = find_calls(text, None, raw)
        if others:
            return ParseError(f"Unknown action {others[0].name!r}. {FORMAT_HINT}", raw)
        return ParseError(f"No action found in your output. {FORMAT_HINT}", raw)

    def _to_action(self, call: Call, image_map: ImageMap, raw: str,
                   elements: ElementList | None = None) -> Action | ElementAction:
        name, a = call.name.lower(), call.args
        ref = element_ref(a)
        if name == "select" or (ref is not None and name in _ELEMENT_KINDS):
            if ref is None:
                raise ParseError(f"select needs element='...' from the screen elements and option='...'. "
                                 f"{FORMAT_HINT}", raw)
            content = a.get("option", a.get("value")) if name == "select" else a.get("content", a.get("#0"))
            step = read_int(a.get("step", "5"), "scroll step", raw) if name == "scroll" else 5
            return element_action(_ELEMENT_KINDS[name], ref, elements, raw, hint=FORMAT_HINT,
                                  text=unescape(content) if content else None,
                                  clear=a.get("clear", "").strip().lower() in ("true", "1"),
                                  direction=a.get("direction"), amount=step)

        def arg(key: str, pos: int) -> str | None:
            return a.get(key, a.get(f"#{pos}"))

        def point(key: str, pos: int) -> tuple[float, float]:
            v = arg(key, pos)
            if v is None:
                raise ParseError(f"{call.name} needs {key}={_POINT_EXAMPLE}. {FORMAT_HINT}", raw)
            x, y = read_point(v, key, _POINT_EXAMPLE, raw, (1000, 1000),
                              "coordinates are thousandths of the screenshot, integers 0-999 for x and y.")
            return image_map.normalized_to_screen(x, y, 1000)

        try:
            if name in _CLICKS:
                button, clicks = _CLICKS[name]
                x, y = point("start_box", 0)
                info = unescape(arg("element_info", 1) or "").strip() or None
                return Click(x, y, button, clicks, target=info)
            if name == "hover":
                return MoveTo(*point("start_box", 0))
            if name == "left_drag":
                (x1, y1), (x2, y2) = point("start_box", 0), point("end_box", 1)
                return Drag(x1, y1, x2, y2)
            if name == "key":
                keys = arg("keys", 0)
                if not keys:
                    raise ParseError(f"key needs keys='...', e.g. key(keys='ctrl+c'). {FORMAT_HINT}", raw)
                return key_action(keys)
            if name == "type":
                return type_action(arg("content", 0), raw)
            if name == "scroll":
                d = (arg("direction", 1) or "").strip().lower()
                if d not in ("up", "down", "left", "right"):
                    raise ParseError(f"scroll needs direction='down' or 'up', got {d[:20]!r}.", raw)
                step = read_int(arg("step", 2) or "5", "scroll step", raw)
                x = y = None
                if arg("start_box", 0) is not None:
                    x, y = point("start_box", 0)
                dy = {"up": step, "down": -step}.get(d, 0)
                dx = {"right": step, "left": -step}.get(d, 0)
                return Scroll(dy=dy, dx=dx, x=x, y=y)
            if name == "wait":
                return Wait(5.0)  # agent.md: "WAIT: Waits for 5 seconds."
            if name == "done":
                ans = arg("answer", 0)
                return Done(unescape(ans) if ans else None)
            if name == "fail":
                return Fail(unescape(arg("reason", 0) or ""))
        except ActionValidationError as e:
            raise ParseError(f"{call.name}: {e}. {FORMAT_HINT}", raw) from None
        raise ParseError(f"Unknown action {call.name!r}. {FORMAT_HINT}", raw)

    # --- rendering ------------------------------------------------------------------------------
    def action_text(self, action: Action, image_map: ImageMap) -> str:
        """``action`` in GLM-4.5V's syntax (for history steps the model did not write)."""

        def pt(x: float, y: float) -> str:
            nx, ny = image_map.screen_to_normalized(x, y, 1000)
            return f"[{min(999, max(0, round(nx)))},{min(999, max(0, round(ny)))}]"

        if isinstance(action, Click) and action.x is not None:
            name = {v: k for k, v in _CLICKS.items()}.get((action.button, action.clicks))
            if name:
                return f"{name}(start_box='{pt(action.x, action.y)}', element_info='{escape(action.target or '')}')"
        if isinstance(action, MoveTo):
            return f"hover(start_box='{pt(action.x, action.y)}')"
        if isinstance(action, Drag):
            return f"left_drag(start_box='{pt(action.x1, action.y1)}', end_box='{pt(action.x2, action.y2)}')"
        if isinstance(action, Hotkey):
            return f"key(keys='{'+'.join(action.keys)}')"
        if isinstance(action, KeyPress):
            return f"key(keys='{action.key}')"
        if isinstance(action, TypeText):
            return f"type(content='{escape(action.text)}')"
        if isinstance(action, Scroll) and (action.dx == 0 or action.dy == 0):
            d, n = (("up" if action.dy > 0 else "down"), abs(action.dy)) if action.dy else \
                (("right" if action.dx > 0 else "left"), abs(action.dx))
            box = f"start_box='{pt(action.x, action.y)}', " if action.x is not None else ""
            return f"scroll({box}direction='{d}', step={n})"
        if isinstance(action, Wait):
            return "WAIT()"
        if isinstance(action, Done):
            return f"DONE(answer='{escape(action.answer)}')" if action.answer else "DONE()"
        if isinstance(action, Fail):
            return "FAIL()"
        return f"({action.describe()}: outside this action space)"


def history_text(s: str | None) -> str:
    """History text as agent.md wants it: box tokens removed."""
    return strip_box_tokens(s or "").strip()
