"""AT-SPI2's roles and states (the D-Bus protocol numbers) and their meaning in our vocabulary.

Why numbers here instead of ``gi.repository.Atspi`` enums: the source talks D-Bus directly, the
numbers are the protocol (AT-SPI2 only ever appends), and this keeps the typelib optional. A test
checks them against ``Atspi.Role`` / ``Atspi.StateType`` where the typelib is installed.

``ROLE_MAP`` turns an AT-SPI role into one of ``agent.elements.model.ROLES`` (or ``None``: never an
element, e.g. a separator, a filler, the application node). ``CONTAINER`` roles become a ``group``
element only when they carry a name (a fieldset's legend, a GTK frame's label); ``LEAF`` roles are
not descended into (a push button's text child says nothing its name does not).
"""

from __future__ import annotations

#: AT-SPI role names (Atspi.Role nicks) by protocol number.
ROLE_NAMES = (
    "invalid", "accelerator-label", "alert", "animation", "arrow", "calendar", "canvas", "check-box",
    "check-menu-item", "color-chooser", "column-header", "combo-box", "date-editor", "desktop-icon",
    "desktop-frame", "dial", "dialog", "directory-pane", "drawing-area", "file-chooser", "filler",
    "focus-traversable", "font-chooser", "frame", "glass-pane", "html-container", "icon", "image",
    "internal-frame", "label", "layered-pane", "list", "list-item", "menu", "menu-bar", "menu-item",
    "option-pane", "page-tab", "page-tab-list", "panel", "password-text", "popup-menu", "progress-bar",
    "push-button", "radio-button", "radio-menu-item", "root-pane", "row-header", "scroll-bar",
    "scroll-pane", "separator", "slider", "spin-button", "split-pane", "status-bar", "table", "table-cell",
    "table-column-header", "table-row-header", "tearoff-menu-item", "terminal", "text", "toggle-button",
    "tool-bar", "tool-tip", "tree", "tree-table", "unknown", "viewport", "window", "extended", "header",
    "footer", "paragraph", "ruler", "application", "autocomplete", "editbar", "embedded", "entry", "chart",
    "caption", "document-frame", "heading", "page", "section", "redundant-object", "form", "link",
    "input-method-window", "table-row", "tree-item", "document-spreadsheet", "document-presentation",
    "document-text", "document-web", "document-email", "comment", "list-box", "grouping", "image-map",
    "notification", "info-bar", "level-bar", "title-bar", "block-quote", "audio", "video", "definition",
    "article", "landmark", "log", "marquee", "math", "rating", "timer", "static", "math-fraction",
    "math-root", "subscript", "superscript", "description-list", "description-term", "description-value",
    "footnote", "content-deletion", "content-insertion", "mark", "suggestion", "push-button-menu",
)
ROLE = {name: i for i, name in enumerate(ROLE_NAMES)}

#: AT-SPI state names (Atspi.StateType nicks) by protocol number (a bit in a 64-bit set).
STATE_NAMES = (
    "invalid", "active", "armed", "busy", "checked", "collapsed", "defunct", "editable", "enabled",
    "expandable", "expanded", "focusable", "focused", "has-tooltip", "horizontal", "iconified", "modal",
    "multi-line", "multiselectable", "opaque", "pressed", "resizable", "selectable", "selected",
    "sensitive", "showing", "single-line", "stale", "transient", "vertical", "visible",
    "manages-descendants", "indeterminate", "required", "truncated", "animated", "invalid-entry",
    "supports-autocompletion", "selectable-text", "is-default", "visited", "checkable", "has-popup",
    "read-only",
)
STATE = {name: i for i, name in enumerate(STATE_NAMES)}

#: Relation types used (Atspi.RelationType).
LABELLED_BY = 2
MEMBER_OF = 5

_ROLE_MAP_BY_NAME: dict[str, str | None] = {
    "push-button": "button", "push-button-menu": "button", "button": "button",
    "toggle-button": "toggle",
    "check-box": "checkbox",
    "radio-button": "radio",
    "entry": "entry", "password-text": "entry", "autocomplete": "entry",
    "combo-box": "combobox",
    "spin-button": "spinbox",
    "slider": "slider", "dial": "slider",
    "link": "link",
    "list-item": "listitem", "tree-item": "listitem",
    "menu-item": "menuitem", "check-menu-item": "menuitem", "radio-menu-item": "menuitem",
    "tearoff-menu-item": "menuitem",
    "page-tab": "tab",
    "table-row": "row",
    "table-cell": "cell", "column-header": "cell", "row-header": "cell", "table-column-header": "cell",
    "table-row-header": "cell",
    "label": "label", "caption": "label", "accelerator-label": "label", "description-term": "label",
    "heading": "heading",
    "image": "image", "icon": "image", "desktop-icon": "image", "image-map": "image", "canvas": "image",
    "static": "text", "paragraph": "text", "text": "text", "description-value": "text", "comment": "text",
    "notification": "text", "status-bar": "text", "tool-tip": "text", "mark": "text", "footnote": "text",
    "list": "list", "list-box": "list", "description-list": "list",
    "table": "table", "tree-table": "table", "tree": "table", "document-spreadsheet": "table",
    "menu": "menu", "menu-bar": "menu", "popup-menu": "menu",
    "dialog": "dialog", "alert": "dialog", "file-chooser": "dialog", "color-chooser": "dialog",
    "font-chooser": "dialog", "option-pane": "dialog",
    "frame": "window", "window": "window", "internal-frame": "window",
    "progress-bar": "other", "level-bar": "other", "scroll-bar": "other", "calendar": "other",
    "date-editor": "other", "terminal": "textarea", "animation": None, "separator": None, "filler": None,
    "application": None, "redundant-object": None, "invalid": None, "unknown": None, "extended": None,
    "glass-pane": None, "layered-pane": None, "root-pane": None, "arrow": None, "ruler": None,
}
#: Roles that group others: a ``group`` element only with a name.
CONTAINER_NAMES = (
    "panel", "section", "form", "grouping", "landmark", "article", "block-quote", "document-web",
    "document-frame", "document-text", "document-email", "document-presentation", "html-container",
    "scroll-pane", "viewport", "split-pane", "tool-bar", "page-tab-list", "header", "footer", "info-bar",
    "directory-pane", "embedded", "editbar", "page", "log", "marquee", "timer", "math", "definition",
    "title-bar", "drawing-area", "chart", "audio", "video", "rating", "focus-traversable",
    "content-deletion", "content-insertion", "suggestion", "subscript", "superscript", "math-fraction",
    "math-root",
)
for _n in CONTAINER_NAMES:
    _ROLE_MAP_BY_NAME.setdefault(_n, "group")

#: Our role for each AT-SPI role number (None: never an element).
ROLE_MAP: dict[int, str | None] = {ROLE[n]: r for n, r in _ROLE_MAP_BY_NAME.items() if n in ROLE}
CONTAINER = frozenset(ROLE[n] for n in CONTAINER_NAMES)
#: Not descended into: their children repeat their name (a button's label text, a checkbox's mark).
LEAF = frozenset(ROLE[n] for n in (
    "push-button", "toggle-button", "check-box", "radio-button", "password-text", "spin-button", "slider",
    "static", "image", "icon", "separator", "progress-bar", "level-bar", "scroll-bar", "animation", "link",
    "check-menu-item", "radio-menu-item", "menu-item", "entry",
))
#: Containers whose name is the label of what they hold (a fieldset's legend, a GTK frame's label, a
#: notebook page's tab); documents and scroll panes are not (their name is a page title).
GROUPS = frozenset(ROLE[n] for n in (
    "panel", "section", "form", "grouping", "landmark", "article", "tool-bar", "page-tab", "list", "list-box",
    "menu", "popup-menu", "table", "tree", "tree-table", "info-bar", "block-quote", "definition",
))
#: Text that is a part of something else: merged into an unnamed parent, dropped when it repeats it.
TEXT_PARTS = frozenset(ROLE[n] for n in ("static", "text", "paragraph"))
#: Their bounds limit what of their descendants can be seen.
CLIPS = frozenset(ROLE[n] for n in ("frame", "window", "dialog", "document-web", "document-frame",
                                   "scroll-pane", "viewport", "internal-frame"))
WINDOWS = frozenset(ROLE[n] for n in ("frame", "window", "dialog", "internal-frame", "file-chooser"))
ROWS = frozenset(ROLE[n] for n in ("table-row",))
CELLS = frozenset(ROLE[n] for n in ("table-cell", "column-header", "row-header", "table-column-header",
                                   "table-row-header"))
COMBOS = frozenset(ROLE[n] for n in ("combo-box",))
#: Inside a collapsed combobox these are the closed list of options: never shown.
POPUP_PARTS = frozenset(ROLE[n] for n in ("menu", "menu-item", "list", "list-box", "list-item", "popup-menu",
                                         "check-menu-item", "radio-menu-item", "window"))
PASSWORD = ROLE["password-text"]
TEXT_ROLES = frozenset(ROLE[n] for n in ("entry", "text", "terminal", "autocomplete"))
VALUE_ROLES = frozenset(ROLE[n] for n in ("spin-button", "slider", "dial", "progress-bar", "level-bar"))

#: Our state names from AT-SPI states.
STATE_MAP = {
    "focused": "focused", "checked": "checked", "selected": "selected", "editable": "editable",
    "expanded": "expanded", "read-only": "readonly", "multi-line": "multiline", "focusable": "focusable",
    "pressed": "pressed", "indeterminate": "indeterminate", "required": "required", "invalid-entry": "invalid",
}
_STATE_BITS = tuple((1 << STATE[k], v) for k, v in STATE_MAP.items())
_ENABLED = (1 << STATE["enabled"]) | (1 << STATE["sensitive"])


def state_bits(pair: tuple[int, int] | list[int]) -> int:
    """The 64-bit state set from the protocol's two int32 words."""
    lo, hi = (int(pair[0]) & 0xFFFFFFFF), (int(pair[1]) & 0xFFFFFFFF)
    return lo | (hi << 32)


def has_state(bits: int, name: str) -> bool:
    return bool(bits & (1 << STATE[name]))


def our_states(bits: int) -> frozenset[str]:
    out = {ours for bit, ours in _STATE_BITS if bits & bit}
    if bits & _ENABLED:
        out.add("enabled")
    return frozenset(out)


def our_role(role: int, bits: int) -> str | None:
    """Our role for an AT-SPI role with its states (a multi-line entry is a textarea; an editable
    text is an entry, a non-editable one text; a list item nobody can select or focus is text)."""
    r = ROLE_MAP.get(role)
    if r in ("entry", "text") and role in TEXT_ROLES:
        if has_state(bits, "multi-line") and (has_state(bits, "editable") or r == "entry"):
            return "textarea"
        if has_state(bits, "editable"):
            return "entry"
    if r == "listitem" and not (has_state(bits, "selectable") or has_state(bits, "focusable")):
        return "text"  # an item of a plain list (a page's <li>): words to read, not something to pick
    return r


def role_name(role: int) -> str:
    return ROLE_NAMES[role] if 0 <= role < len(ROLE_NAMES) else f"role-{role}"
