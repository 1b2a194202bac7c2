"""Ground truth from the DOM: the page's visible interactive elements with role, name and screen box.

    browser = launch_chromium(url, remote_debugging_port=0)
    with DomTruth(browser) as truth:
        elements = truth.elements()   # [{"role": "entry", "name": "From", "bounds": [l, t, w, h]}, ...]

Why: the accessibility element source (AT-SPI) must be measured against something it did not
produce. Selenium attaches to the running Chromium through its DevTools port (chromedriver with
``debuggerAddress``: the browser is neither started nor closed by it) and one script walks the DOM:
which elements a person can operate, what they are called, and where they are. The name follows the
accessible-name rules a screen reader uses, in their order: ``aria-labelledby``, ``aria-label``, the
``<label>`` of a form control, the text of a button / link / option, ``title``, ``placeholder``.
Roles are the project's words: button, entry, textarea, checkbox, radio, combobox, link, option,
slider, spinbutton, tab, menuitem, switch, listbox.

Bounds are screen pixels: the viewport's origin is the window's X11 position (``BrowserHandle.box``)
plus the browser's own chrome above the page (``outerHeight - innerHeight``); each box is clipped to
the viewport, and elements wholly outside it, hidden, or zero-sized are left out. ``occluded`` says
that something else (a pop-up) is drawn over the element's centre.
"""

from __future__ import annotations

from typing import Any

from agent.desktop.browser import BrowserError, BrowserHandle

CHROMEDRIVER = "/usr/bin/chromedriver"

_SCRIPT = r"""
const SEL = 'a[href], button, input, select, textarea, [role=button], [role=link], [role=checkbox], ' +
  '[role=radio], [role=combobox], [role=option], [role=menuitem], [role=tab], [role=switch], ' +
  '[role=textbox], [role=slider], [role=spinbutton], [role=listbox][tabindex], [contenteditable=true]';
const ROLES = {button: 'button', link: 'link', checkbox: 'checkbox', radio: 'radio', combobox: 'combobox',
  option: 'option', menuitem: 'menuitem', tab: 'tab', switch: 'switch', textbox: 'entry', slider: 'slider',
  spinbutton: 'spinbutton', listbox: 'listbox'};
const clean = (t) => (t || '').replace(/\s+/g, ' ').trim();
function role(el) {
  const r = (el.getAttribute('role') || '').split(/\s+/)[0];
  if (ROLES[r]) return r === 'textbox' && el.getAttribute('aria-multiline') === 'true' ? 'textarea' : ROLES[r];
  const tag = el.tagName.toLowerCase();
  if (tag === 'a') return 'link';
  if (tag === 'button') return el.hasAttribute('aria-pressed') ? 'toggle' : 'button';  // ARIA: a toggle button
  if (tag === 'textarea') return 'textarea';
  if (tag === 'select') return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
  if (tag === 'input') {
    const t = (el.getAttribute('type') || 'text').toLowerCase();
    if (t === 'checkbox' || t === 'radio') return t;
    if (['button', 'submit', 'reset', 'image'].includes(t)) return 'button';
    if (t === 'range') return 'slider';
    if (t === 'number') return 'spinbutton';
    return 'entry';
  }
  return el.isContentEditable ? 'entry' : 'button';
}
function textOf(node) {  // the rendered text of a subtree, without its form controls' own contents
  if (node.nodeType === Node.TEXT_NODE) return node.textContent;
  if (node.nodeType !== Node.ELEMENT_NODE) return '';
  const el = node;
  if (el.getAttribute('aria-hidden') === 'true') return '';
  if (['SELECT', 'TEXTAREA', 'SCRIPT', 'STYLE'].includes(el.tagName)) return '';
  if (el.tagName === 'INPUT') return '';
  if (el.getAttribute('aria-label')) return ' ' + el.getAttribute('aria-label') + ' ';
  const st = getComputedStyle(el);
  if (st.display === 'none' || st.visibility === 'hidden') return '';
  const inner = [...el.childNodes].map(textOf).join('');
  return st.display === 'inline' ? inner : ' ' + inner + ' ';
}
function name(el) {
  const ids = el.getAttribute('aria-labelledby');
  if (ids) {
    const t = clean(ids.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean).map(textOf).join(' '));
    if (t) return t;
  }
  if (clean(el.getAttribute('aria-label'))) return clean(el.getAttribute('aria-label'));
  const tag = el.tagName, type = (el.getAttribute('type') || '').toLowerCase();
  if (tag === 'INPUT' && ['button', 'submit', 'reset'].includes(type)) {
    return clean(el.value) || {submit: 'Submit', reset: 'Reset'}[type] || '';
  }
  if (tag === 'INPUT' && type === 'image') return clean(el.alt || el.value);
  if (['INPUT', 'SELECT', 'TEXTAREA'].includes(tag) && el.labels && el.labels.length) {
    const t = clean([...el.labels].map(textOf).join(' '));
    if (t) return t;
  }
  if (!['INPUT', 'SELECT', 'TEXTAREA'].includes(tag) && !el.isContentEditable) {
    const t = clean(textOf(el));
    if (t) return t;
  }
  return clean(el.getAttribute('title')) || clean(el.getAttribute('placeholder')) || '';
}
function visible(el) {
  if (el.closest('[hidden], [inert]')) return null;
  if (el.tagName === 'OPTION' || (el.tagName === 'INPUT' && el.type === 'hidden')) return null;
  const st = getComputedStyle(el);
  if (st.visibility === 'hidden' || st.display === 'none' || Number(st.opacity) === 0) return null;
  const r = el.getBoundingClientRect();
  const l = Math.max(0, r.left), t = Math.max(0, r.top);
  const rr = Math.min(innerWidth, r.right), b = Math.min(innerHeight, r.bottom);
  if (rr - l < 1 || b - t < 1) return null;
  return [l, t, rr, b];
}
const out = [];
for (const el of document.querySelectorAll(SEL)) {
  const box = visible(el);
  if (!box) continue;
  const [l, t, r, b] = box, hit = document.elementFromPoint((l + r) / 2, (t + b) / 2);
  const lab = el.labels ? [...el.labels] : [];
  out.push({role: role(el), name: name(el), client: box, tag: el.tagName.toLowerCase(),
    key: el.dataset ? el.dataset.key || null : null, enabled: !el.disabled && el.getAttribute('aria-disabled') !== 'true',
    checked: (el.type === 'checkbox' || el.type === 'radio') ? el.checked : null,
    occluded: !(hit && (el === hit || el.contains(hit) || lab.some((x) => x === hit || x.contains(hit))))});
}
return {elements: out, metrics: [screenX, screenY, outerWidth, outerHeight, innerWidth, innerHeight, devicePixelRatio]};
"""


def attach(browser: BrowserHandle, chromedriver: str = CHROMEDRIVER):
    """A selenium driver attached to ``browser`` (started with ``remote_debugging_port``)."""
    if browser.debug_port is None:
        raise BrowserError("DOM truth needs a browser started with remote_debugging_port (0 = any free port)")
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.debugger_address = f"127.0.0.1:{browser.debug_port}"
    try:
        return webdriver.Chrome(service=Service(chromedriver), options=opts)
    except WebDriverException as e:
        raise BrowserError(f"chromedriver could not attach to Chromium on port {browser.debug_port}: "
                           f"{str(e).splitlines()[0]}") from None


def page_origin(browser: BrowserHandle, metrics: list[float]) -> tuple[float, float]:
    """Screen position of the viewport's (0, 0): the X window's corner plus the browser chrome above."""
    sx, sy, ow, oh, iw, ih, _dpr = metrics
    box = browser.box()
    wx, wy = (box[0], box[1]) if box else (sx, sy)
    side = max(0.0, (ow - iw) / 2)
    return wx + side, wy + oh - ih - side


def to_screen(raw: dict[str, Any], origin: tuple[float, float]) -> dict[str, Any]:
    l, t, r, b = raw.pop("client")
    x0, y0 = round(origin[0] + l), round(origin[1] + t)
    return {"role": raw.pop("role"), "name": raw.pop("name"),
            "bounds": [x0, y0, round(origin[0] + r) - x0, round(origin[1] + b) - y0], **raw}


class DomTruth:
    """Attached once, asked many times (one script round trip per snapshot)."""

    def __init__(self, browser: BrowserHandle, chromedriver: str = CHROMEDRIVER) -> None:
        self.browser = browser
        self.driver = attach(browser, chromedriver)

    def elements(self) -> list[dict[str, Any]]:
        got = self.driver.execute_script(_SCRIPT)
        origin = page_origin(self.browser, got["metrics"])
        return [to_screen(e, origin) for e in got["elements"]]

    def close(self) -> None:
        """Detach; the browser keeps running (chromedriver did not start it)."""
        try:
            self.driver.quit()
        except Exception:  # noqa: BLE001 - the browser may already be gone
            pass

    def __enter__(self) -> "DomTruth":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dom_elements(browser: BrowserHandle, chromedriver: str = CHROMEDRIVER) -> list[dict[str, Any]]:
    """One snapshot of the page's visible interactive elements (attach, read, detach)."""
    with DomTruth(browser, chromedriver) as truth:
        return truth.elements()
