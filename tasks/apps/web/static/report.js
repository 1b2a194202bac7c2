/* The page's layout report: what the oracle and the tests read instead of guessing pixels.
 *
 * startLayoutReport(describe) reports, after every render and whenever the window moves, each
 * visible element with a data-key: its box in SCREEN pixels, its name (aria-label, <label>, text),
 * whether it is disabled, and the keys that are drawn over (by a pop-up) apart. describe() adds
 * the page's own part (page, message, field values). The report goes to POST /api/state, which
 * rewrites the state file; identical reports are not sent twice; seq orders them.
 *
 * Screen position of the page's (0, 0): window.screenX/screenY plus the browser chrome
 * (outerHeight - innerHeight; side borders split evenly) — exact under Xvfb without a window
 * manager. Once the pointer moved over the page, a mouse event's screenX - clientX gives the exact
 * offset under any window manager, and replaces the formula until the chrome height changes.
 */
"use strict";
window.startLayoutReport = function startLayoutReport(describe) {
  const geo = { dx: null, dy: null, chrome: null };
  document.addEventListener("mousemove", (e) => {
    geo.dx = e.screenX - e.clientX - window.screenX;
    geo.dy = e.screenY - e.clientY - window.screenY;
    geo.chrome = window.outerHeight - window.innerHeight;
    schedule();
  }, { capture: true, passive: true });
  function origin() {
    if (geo.dx !== null && geo.chrome === window.outerHeight - window.innerHeight) {
      return [window.screenX + geo.dx, window.screenY + geo.dy, "pointer"];
    }
    const side = Math.max(0, (window.outerWidth - window.innerWidth) / 2);
    return [window.screenX + side, window.screenY + window.outerHeight - window.innerHeight - side, "window"];
  }
  const clean = (t) => (t || "").replace(/\s+/g, " ").trim();
  function label(el) {
    if (el.getAttribute("aria-label")) return clean(el.getAttribute("aria-label"));
    if (el.labels && el.labels.length) return clean([...el.labels].map((l) => l.textContent).join(" "));
    return clean(el.textContent);
  }
  function boxOf(el, ox, oy) {  // clipped to the viewport; null when hidden, empty or scrolled away
    if (el.closest("[hidden]")) return null;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || getComputedStyle(el).visibility === "hidden") return null;
    const l = Math.max(0, r.left), t = Math.max(0, r.top);
    const rr = Math.min(window.innerWidth, r.right), b = Math.min(window.innerHeight, r.bottom);
    if (rr - l < 1 || b - t < 1) return null;
    const x0 = Math.round(ox + l), y0 = Math.round(oy + t);
    return [[x0, y0, Math.round(ox + rr) - x0, Math.round(oy + b) - y0], (l + rr) / 2, (t + b) / 2];
  }
  function snapshot() {
    const [ox, oy, how] = origin();
    const widgets = {}, disabled = [], covered = [], labels = {};
    for (const el of document.querySelectorAll("[data-key]")) {
      const got = boxOf(el, ox, oy);
      if (!got) continue;
      const [box, cx, cy] = got, key = el.dataset.key;
      const hit = document.elementFromPoint(cx, cy);
      if (!hit || !(el === hit || el.contains(hit))) { covered.push(key); continue; }
      widgets[key] = box;
      labels[key] = label(el);
      if (el.disabled) disabled.push(key);
    }
    const active = document.activeElement;
    return {
      ...describe(), widgets, disabled, covered, labels,
      focused: (active && active.dataset && active.dataset.key) || null,
      window: [window.screenX, window.screenY, window.outerWidth, window.outerHeight],
      viewport: [Math.round(ox), Math.round(oy), window.innerWidth, window.innerHeight],
      origin: how, dpr: window.devicePixelRatio || 1,
    };
  }
  const session = Math.random().toString(36).slice(2);
  let seq = 0, lastSent = "", pending = false;
  function report() {
    const snap = snapshot(), text = JSON.stringify(snap);
    if (text === lastSent) return;
    lastSent = text;
    seq += 1;
    fetch("/api/state", { method: "POST", headers: { "Content-Type": "application/json" }, keepalive: true,
      body: JSON.stringify({ session, seq, ...snap }) }).catch(() => {});
  }
  function schedule() {  // after the next frame is laid out and painted
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => requestAnimationFrame(() => { pending = false; report(); }));
  }
  for (const ev of ["input", "change", "focusin", "focusout", "scroll", "resize", "keyup", "click"]) {
    window.addEventListener(ev, schedule, { capture: true, passive: true });
  }
  setInterval(schedule, 250); // the window may move without any event reaching the page
  return schedule;
};
