"""``select`` and ``check`` on pixels alone, for targets the element model does not have.

The element model covers what fill meets on the tested toolkits; these are the fallbacks when a
target was found by the OCR text grounder instead (a custom-drawn control, a remote desktop the
visual parse misreads). They are what fill did before the element model: a drop-down's option is
the text below (else above) the field once it was clicked, read back as the text inside the field;
a tick box is the small square left of its label, its state read from its pixels. No square seen:
``check`` clicks once when it must tick (assuming unticked) and does nothing to untick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from actions.coords import Rect
from actions.space import KeyPress
from agent.fill.script import SelectStep, Target
from agent.fill.targets import Hit, StepFailed
from model.ground_text import checkbox_state
from model.grounding import ElementNotFound, Query, Shot

if TYPE_CHECKING:
    from agent.fill.runner import FillRunner


def _find(fill: "FillRunner", q: Query) -> Hit | None:
    try:
        return Hit.of_match(fill.finder.grounder.locate(fill.finder.shot(), q), fallback=True)
    except ElementNotFound:
        return None


def select(fill: "FillRunner", field: Hit, v: SelectStep, desc: str, timeout: float) -> None:
    option = v.option
    shot = fill.finder.shot()
    fill.click(field, desc)
    screen = shot.map.area
    below = Rect(screen.left, field.box.bottom - 1, screen.width, screen.bottom - field.box.bottom + 1)
    above = Rect(screen.left, screen.top, screen.width, max(1.0, field.box.top - screen.top))
    try:
        m = fill.finder.grounded(Query(text=option, role="text", region=below), timeout)
    except StepFailed as e:
        m = _find(fill, Query(text=option, role="text", region=above))
        if m is None:
            fill.act(KeyPress("escape"), desc)
            raise StepFailed(f"option {option!r} is not in the list opened by {v.field.label()!r} ({e})") from None
    fill.click(m, desc)
    if _find(fill, Query(text=option, role="text", region=field.box, min_score=0.8)) is None:
        raise StepFailed(f"chose {option!r} but {v.field.label()!r} does not show it "
                         f"(screenshot {fill.save_shot(fill.finder.shot(fresh=True), 'select')})")


def tick(shot: Shot, box: Rect) -> bool | None:
    """The state of the tick box left of ``box`` (a label's text), or None when none is seen."""
    x0, y0 = shot.map.screen_to_image(box.left, box.top)
    x1, y1 = shot.map.screen_to_image(box.right, box.bottom)
    return checkbox_state(np.asarray(shot.image.convert("RGB")), (x0, y0, x1 - x0, y1 - y0))


def check(fill: "FillRunner", hit: Hit, label: Target, want: bool, desc: str) -> None:
    state = tick(fill.finder.shot(), hit.box)
    if state is want or (state is None and not want):
        return  # as wanted, or no tick box seen and nothing to tick: a click would be a blind toggle
    fill.click(hit, desc)
    if state is not None:
        after = fill.finder.shot(fresh=True)
        again = _find(fill, fill.finder.grounder_query(label, "check"))
        if again is not None and tick(after, again.box) is not want:
            raise StepFailed(f"clicked {label.label()!r} but its tick box is still "
                             f"{'un' if want else ''}ticked (screenshot {fill.save_shot(after, 'check')})")
