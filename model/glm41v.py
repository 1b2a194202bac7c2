"""GLM-4.1V-9B-Thinking as a desktop agent: its own official prompt, GLM-4.5V's answer format.

Source: zai-org/GLM-V ``examples/gui-agent/glm-41v/agent.md`` ("Desktop Environment") and
``gui_agent_41v.py`` (``get_pc_prompt``, ``parse_pc_response``). What differs from GLM-4.5V
(``model.glm45v``):

* the prompt: "You are a GUI operation agent…", the action space as one line per call with a comment,
  numbered output rules; history as ``History actions:`` with ``step k: <answer>`` lines and the
  memory after them, all in one user turn;
* the images go FIRST: the current screenshot at full size, then up to 4 earlier screenshots at
  50% x 50%, oldest first, then the text (GLM-4.5V puts the current screenshot last);
* coordinates are "normalized to 0-1000" (thousandths as for GLM-4.5V; 1000 is the far edge);
* the answer is the same: ``<think>…</think><answer>explanation action(...) Memory: [...]</answer>``
  with the action in ``<|begin_of_box|>…<|end_of_box|>`` or bare; the rules also mention an empty
  ``<memory></memory>`` part, which is read as the memory.

So the parser is GLM-4.5V's; only the prompt is this module's. Dropped from the official text, as for
GLM-4.5V: the OSWorld VM's passwords and "You have full authority to execute any action without my
permission" (this agent asks a person before risky actions). Added: the safety line, the optional
element list (``--observe screenshot+elements`` / ``som``) and feedback.
"""

from __future__ import annotations

from collections.abc import Sequence

from actions.coords import ImageMap
from model.base import ImagePart, Message, TextPart
from model.family import HistoryEntry, ParsedStep, ParseError, half_size
from model.glm45v import Glm45vFamily, history_text
from model.glm45v_prompt import FEEDBACK_SECTION, SAFETY_NOTE, elements_section
from model.marks import ElementList

# zai-org/GLM-V examples/gui-agent/glm-41v/gui_agent_41v.py, get_pc_prompt: action_space
ACTION_SPACE_41V = """left_click(start_box='[x,y]', element_info='')
# left single click at [x,y]
right_click(start_box='[x,y]', element_info='')
# right single click at [x,y]
middle_click(start_box='[x,y]', element_info='')
# middle single click at [x,y]
hover(start_box='[x,y]', element_info='')
# hover the mouse at [x,y]
left_double_click(start_box='[x,y]', element_info='')
# left double click at [x,y]
left_drag(start_box='[x1,y1]', end_box='[x2,y2]', element_info='')
# left drag from [x1,y1] to [x2,y2]
key(keys='')
# press a single key or a key combination/shortcut, if it's a key combination, you should use '+' to connect the keys like key(key='ctrl+c')
type(content='')
# type text into the current active element, it performs a copy&paste operation, so *you must click at the target element first to active it before typing something in*, if you want to overwrite the content, you should clear the content before type something in.
scroll(start_box='[x,y]', direction='down/up', step=k, element_info='')
# scroll the page at [x,y] to the specified direction for k clicks of the mouse wheel
WAIT()
# sleep for 5 seconds
DONE()
# output when the task is fully completed
FAIL()
# output when the task can not be performed at all"""

PROMPT_41V = """You are a GUI operation agent. You will be given a task and your action history, with recent screenshots. You should help me control the computer, output the best action step by step to accomplish the task.
The actions you output must be in the following action space:
{action_space}

The output rules are as follows:
1. The start/end box parameter of the action should be in the format of [x, y] normalized to 0-1000, which usually should be the bounding box of a specific target element.
2. The element_info parameter is optional, it should be a string that describes the element you want to operate with, you should fill this parameter when you're sure about what the target element is.
3. Take actions step by step. *NEVER output multiple actions at once*.
4. If there are previous actions that you have already performed, I'll provide you history actions and at most 4 shrunked(to 50%*50%) screenshots showing the state before your last 4 actions. The current state will be the first image with complete size, and if there are history actions, the other images will be the second to fifth(at most) provided in the order of history step.
5. You should put the key information you *have to remember* in a separated memory part and I'll give it to you in the next round. The content in this part should be a JSON list. If you no longer need some given information, you should remove it from the memory. Even if you don't need to remember anything, you should also output an empty <memory></memory> part.
6. You can choose to give me a brief explanation before you start to take actions.

Output Format:
Plain text explanation with action(param='...')
Memory:
[{{"user_email": "x@gmail.com", ...}}]

Here are some helpful tips:
- If you are presented with an open website to solve the task, try to stick to that specific one instead of going to a new one.
{safety}
Now Please help me to solve the following task:
{task}
{history_with_memory}"""

#: gui_agent_41v.py: the note added when earlier screenshots are sent.
HISTORY_NOTE = ("\nNote: You will also see {n} recent historical screenshots (50% scaled) showing the states before "
                "your last {n} actions. These are provided in chronological order to help you understand the "
                "context of your previous actions.")
HISTORY_IMAGES = 4


class Glm41vFamily(Glm45vFamily):
    """GLM-4.1V-9B-Thinking's desktop (OSWorld) prompt; GLM-4.5V's answer format and parser."""

    name = "glm41v"

    def build_messages(self, goal: str, screenshot: ImagePart, history: Sequence[HistoryEntry], *,
                       feedback: str | None = None, elements: ElementList | None = None) -> list[Message]:
        """One user turn: the current screenshot, up to 4 earlier ones at half size (oldest first),
        then the prompt with the history, the memory and (optionally) the elements and feedback."""
        steps = ""
        for i, h in enumerate(history):
            answer = "\n".join(p for p in (history_text(h.thought), history_text(h.action_text)) if p)
            if h.feedback:
                answer += f"\nFeedback: {history_text(h.feedback)}"
            steps += f"\nstep {i + 1}: {answer}"
        earlier = [h.image for h in history[-HISTORY_IMAGES:] if h.image is not None]
        memory = next((h.memory for h in reversed(history) if h.memory is not None), None)
        note = HISTORY_NOTE.format(n=len(earlier)) if earlier else ""
        text = PROMPT_41V.format(action_space=ACTION_SPACE_41V, safety=SAFETY_NOTE, task=goal,
                                 history_with_memory=f"History actions:{steps}\nMemory:\n{(memory or '[]').strip() or '[]'}{note}")
        text += elements_section(elements)
        if feedback:
            text += FEEDBACK_SECTION.format(feedback=feedback.strip())
        parts = (screenshot, *(half_size(im) for im in earlier), TextPart(text))
        return [Message("user", parts)]

    def _parse(self, raw: str, reasoning: str | None, image_map: ImageMap, *,
               elements: ElementList | None = None) -> ParsedStep:
        # the rules ask for a <memory></memory> part, the format for "Memory:": read both as the memory
        if "<memory>" not in raw or "Memory:" in raw:
            return super()._parse(raw, reasoning, image_map, elements=elements)
        text = raw.replace("<memory>", "\nMemory:\n").replace("</memory>", "")
        try:
            return super()._parse(text, reasoning, image_map, elements=elements)
        except ParseError as e:
            raise ParseError(str(e), raw, e.internal) from None
