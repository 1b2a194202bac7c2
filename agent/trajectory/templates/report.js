// desk-agent report: filters, first error, images on demand, lightbox. Inline; no network.
(function () {
  "use strict";
  var store = {};
  var data = document.getElementById("img-data");
  if (data) { try { store = JSON.parse(data.textContent); } catch (e) { store = {}; } }
  function fill(root) {
    root.querySelectorAll("img[data-img]").forEach(function (img) {
      if (!img.getAttribute("src") && store[img.dataset.img]) { img.src = store[img.dataset.img]; }
    });
  }
  function open(id) {
    var el = document.getElementById(id);
    if (!el) { return; }
    if (el.hidden) {  // hidden by a filter: show everything again first
      var all = document.querySelector(".filters button[data-filter='all']");
      if (all) { all.click(); }
    }
    if (el.tagName === "DETAILS") { el.open = true; fill(el); }
    el.scrollIntoView({block: "start"});
  }
  document.querySelectorAll("details.step").forEach(function (d) {
    if (d.open) { fill(d); }
    d.addEventListener("toggle", function () { if (d.open) { fill(d); } });
  });
  document.querySelectorAll("a[data-jump]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      open(a.dataset.jump);
      history.replaceState(null, "", "#" + a.dataset.jump);
    });
  });
  var buttons = document.querySelectorAll(".filters button[data-filter]");
  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      var f = b.dataset.filter;
      buttons.forEach(function (o) { o.classList.toggle("on", o === b); });
      document.querySelectorAll("[data-flags]").forEach(function (el) {
        var mine = (el.dataset.flags || "").split(" ");
        el.hidden = f !== "all" && mine.indexOf(f) < 0;
      });
      document.body.dataset.filter = f;
    });
  });
  document.querySelectorAll("button[data-all]").forEach(function (b) {
    b.addEventListener("click", function () {
      var on = b.dataset.all === "open";
      document.querySelectorAll("details.step").forEach(function (d) { d.open = on; if (on) { fill(d); } });
    });
  });
  var box = document.getElementById("lightbox");
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("[data-zoom]");
    if (!t || !box) { return; }
    ev.preventDefault();
    var src = store[t.dataset.zoom] || (t.tagName === "IMG" ? t.src : "");
    if (!src) { return; }
    box.querySelector("img").src = src;
    box.hidden = false;
  });
  if (box) {
    box.addEventListener("click", function () { box.hidden = true; });
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { box.hidden = true; } });
  }
  if (location.hash.length > 1) { open(location.hash.slice(1)); }
  document.body.dataset.ready = "1";
})();
