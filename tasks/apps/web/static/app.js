/* Rail&Go: search -> results -> details -> payment -> confirmation, in one page, no framework.
 *
 * Besides being a booking site, the page reports its own layout to the server through report.js
 * (every element with a data-key, its box in screen pixels); describe() below adds the page, the
 * message and the field values (never the card number). The server writes the state file the
 * oracle and the tests read.
 */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const S = {
    page: "search", config: null, message: "", date: null, month: null, search: null, results: [],
    train: null, booking: null, lists: { from: [], to: [] }, active: { from: -1, to: -1 },
    query: { from: "", to: "" }, paying: false,
  };

  // ---- helpers -------------------------------------------------------------------------------
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    const r = await fetch(path, init);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
    return data;
  }
  const pad = (n) => String(n).padStart(2, "0");
  const iso = (y, m, d) => `${y}-${pad(m)}-${pad(d)}`;
  const parts = (s) => s.split("-").map(Number);
  const weekdayIndex = (s) => { const [y, m, d] = parts(s); return (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; };
  const longDate = (s) => { const [y, m, d] = parts(s); return `${WEEKDAYS[weekdayIndex(s)]} ${d} ${MONTHS[m - 1]} ${y}`; };
  const daysIn = (y, m) => new Date(Date.UTC(y, m, 0)).getUTCDate();
  const euro = (v) => `\u20ac${v.toFixed(2)}`;
  const station = (text) => {
    const t = text.trim().toLowerCase().replace(/\s+/g, " ");
    return S.config.stations.find((s) => s.toLowerCase() === t) || null;
  };
  function setMessage(id, text) {
    S.message = text;
    $(id).textContent = text;
    schedule();
  }

  // ---- pages ---------------------------------------------------------------------------------
  function show(page) {
    S.page = page;
    S.message = "";
    for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${page}`;
    for (const m of document.querySelectorAll(".message")) m.textContent = "";
    for (const li of document.querySelectorAll(".steps li")) {
      if (li.dataset.step === page) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    }
    window.scrollTo(0, 0);
    schedule();
  }

  // ---- station autocomplete (combobox + listbox) ---------------------------------------------
  function renderList(key) {
    const list = $(`${key}-list`), input = $(key), items = S.lists[key];
    list.replaceChildren(...items.map((name, i) => {
      const li = document.createElement("li");
      li.id = `${key}-opt-${i}`;
      li.setAttribute("role", "option");
      li.dataset.key = `option:${name}`;
      li.dataset.value = name;
      li.setAttribute("aria-selected", String(i === S.active[key]));
      li.textContent = name;
      return li;
    }));
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", String(items.length > 0));
    if (S.active[key] >= 0) input.setAttribute("aria-activedescendant", `${key}-opt-${S.active[key]}`);
    else input.removeAttribute("aria-activedescendant");
    schedule();
  }
  function closeList(key) {
    S.lists[key] = [];
    S.active[key] = -1;
    renderList(key);
  }
  function pick(key, name) {
    $(key).value = name;
    S.query[key] = name;
    closeList(key);
    $("search-message").textContent = "";
    S.message = "";
  }
  function setupCombo(key) {
    const input = $(key), list = $(`${key}-list`);
    let asked = 0;
    input.addEventListener("input", async () => {
      const q = input.value, mine = ++asked;
      S.query[key] = q;
      if (!q.trim()) { closeList(key); return; }
      const data = await api(`/api/stations?q=${encodeURIComponent(q)}`).catch(() => ({ stations: [] }));
      if (mine !== asked || input.value !== q) return; // a newer keystroke already asked
      S.lists[key] = data.stations;
      S.active[key] = -1;
      renderList(key);
    });
    input.addEventListener("keydown", (e) => {
      const n = S.lists[key].length;
      if ((e.key === "ArrowDown" || e.key === "ArrowUp") && n) {
        e.preventDefault();
        const step = e.key === "ArrowDown" ? 1 : -1;
        S.active[key] = S.active[key] < 0 ? (step > 0 ? 0 : n - 1) : (S.active[key] + step + n) % n;
        renderList(key);
      } else if (e.key === "Enter" && n && S.active[key] >= 0) {
        e.preventDefault();
        pick(key, S.lists[key][S.active[key]]);
      } else if (e.key === "Escape" && n) {
        e.preventDefault();
        closeList(key);
      }
    });
    input.addEventListener("blur", () => closeList(key));
    list.addEventListener("mousedown", (e) => e.preventDefault()); // keep the focus in the field
    list.addEventListener("click", (e) => {
      const li = e.target.closest("li[role=option]");
      if (li) pick(key, li.dataset.value);
    });
  }

  // ---- the date picker -------------------------------------------------------------------------
  function renderCalendar() {
    const [y, m] = parts(S.month);
    const today = S.config.today, last = S.config.last_day;
    $("month_label").textContent = `${MONTHS[m - 1]} ${y}`;
    $("month_prev").disabled = S.month <= today.slice(0, 7);
    $("month_next").disabled = S.month >= last.slice(0, 7);
    const cells = [];
    for (let i = 0; i < weekdayIndex(iso(y, m, 1)); i++) cells.push(null);
    for (let d = 1; d <= daysIn(y, m); d++) cells.push(iso(y, m, d));
    const rows = [];
    for (let i = 0; i < cells.length; i += 7) {
      const tr = document.createElement("tr");
      for (let j = i; j < i + 7; j++) {
        const td = document.createElement("td");
        const day = cells[j];
        if (day) {
          const b = document.createElement("button");
          b.type = "button";
          b.dataset.key = `day:${day}`;
          b.dataset.day = day;
          b.textContent = String(Number(day.slice(8)));
          b.setAttribute("aria-label", longDate(day));
          b.setAttribute("aria-pressed", String(day === S.date));
          b.disabled = day < today || day > last;
          td.appendChild(b);
        }
        tr.appendChild(td);
      }
      rows.push(tr);
    }
    $("days").replaceChildren(...rows);
    schedule();
  }
  function openCalendar() {
    S.month = (S.date || S.config.today).slice(0, 7);
    renderCalendar();
    $("calendar").hidden = false;
    $("date_button").setAttribute("aria-expanded", "true");
    schedule();
  }
  function closeCalendar() {
    $("calendar").hidden = true;
    $("date_button").setAttribute("aria-expanded", "false");
    schedule();
  }
  function shiftMonth(delta) {
    let [y, m] = parts(S.month);
    m += delta;
    if (m < 1) { m = 12; y -= 1; }
    if (m > 12) { m = 1; y += 1; }
    S.month = `${y}-${pad(m)}`;
    renderCalendar();
  }
  function chooseDay(day) {
    S.date = day;
    $("date_value").textContent = longDate(day);
    closeCalendar();
    $("date_button").focus();
  }

  // ---- search and results ----------------------------------------------------------------------
  async function onSearch(e) {
    e.preventDefault();
    closeCalendar();
    const from = station($("from").value), to = station($("to").value);
    if (!from || !to) return setMessage("search-message", "Choose the From and To stations from the list");
    if (from === to) return setMessage("search-message", "From and To must be different stations");
    if (!S.date) return setMessage("search-message", "Select a travel date");
    const passengers = Number($("passengers").value);
    let data;
    try {
      data = await api(`/api/trains?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&date=${S.date}`);
    } catch (err) {
      return setMessage("search-message", err.message);
    }
    S.search = { from, to, date: S.date, passengers };
    S.results = data.trains;
    renderResults();
  }
  function renderResults() {
    const { from, to, date, passengers } = S.search;
    $("results-title").textContent = `${from} \u2192 ${to}`;
    $("results-sub").textContent = `${longDate(date)} \u00b7 ${passengers} passenger${passengers > 1 ? "s" : ""}`;
    const rows = S.results.map((t) => {
      const tr = document.createElement("tr");
      tr.dataset.key = `row:${t.departure}`;
      const cells = [t.departure, t.arrival, t.duration, t.changes ? `${t.changes} change` : "direct",
        euro(t.fare * passengers)];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 4) td.className = "price";
        tr.appendChild(td);
      });
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "Select";
      b.dataset.key = `select:${t.departure}`;
      b.addEventListener("click", () => chooseTrain(t));
      td.appendChild(b);
      tr.appendChild(td);
      return tr;
    });
    $("results-body").replaceChildren(...rows);
    $("results").hidden = rows.length === 0;
    show("results");
    if (!rows.length) setMessage("results-message", `No trains found between ${from} and ${to} on that day.`);
  }

  // ---- details, payment, confirmation ----------------------------------------------------------
  function chooseTrain(t) {
    S.train = t;
    const { from, to, date, passengers } = S.search;
    $("details-sub").textContent = `${t.departure} ${from} \u2192 ${t.arrival} ${to}, ${longDate(date)}, ` +
      `${passengers} passenger${passengers > 1 ? "s" : ""}`;
    show("details");
  }
  const seatValue = () => (document.querySelector("input[name=seat]:checked") || {}).value || null;
  const totalPrice = () => Math.round((S.train.fare * S.search.passengers +
    ($("insurance").checked ? S.config.insurance * S.search.passengers : 0)) * 100) / 100;
  function onDetails(e) {
    e.preventDefault();
    const name = $("name").value.trim(), email = $("email").value.trim();
    if (!name) return setMessage("details-message", "Enter the passenger's full name");
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) return setMessage("details-message", "Enter a valid email address");
    if (!seatValue()) return setMessage("details-message", "Choose a seat preference");
    const { from, to, date, passengers } = S.search, t = S.train;
    const rows = [["From", from], ["To", to], ["Date", longDate(date)], ["Train", `${t.departure} \u2192 ${t.arrival}`],
      ["Passengers", String(passengers)], ["Name", name], ["Seat", seatValue()],
      ["Insurance", $("insurance").checked ? "yes" : "no"], ["Total", euro(totalPrice())]];
    $("summary").replaceChildren(...rows.flatMap(([k, v]) => {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = v;
      return [dt, dd];
    }));
    $("pay").textContent = `Pay ${euro(totalPrice())}`;
    show("payment");
  }
  async function onPay() {
    if (S.paying) return;
    const digits = $("card").value.replace(/\D/g, "");
    if (digits.length < 12) return setMessage("payment-message", "Enter the card number (12 to 19 digits)");
    S.paying = true;
    $("pay").disabled = true;
    schedule();
    try {
      const { from, to, date, passengers } = S.search;
      S.booking = await api("/api/book", {
        origin: from, destination: to, date, departure: S.train.departure, passengers,
        passenger: $("name").value.trim(), email: $("email").value.trim(), seat: seatValue(),
        insurance: $("insurance").checked, notes: $("notes").value, card: $("card").value });
      $("card").value = "";
      $("reference").textContent = S.booking.reference;
      $("confirmation-sub").textContent = `${from} \u2192 ${to}, ${longDate(date)}, ${S.train.departure}. ` +
        `Paid ${euro(S.booking.price)}.`;
      show("confirmation");
    } catch (err) {
      setMessage("payment-message", err.message);
    } finally {
      S.paying = false;
      $("pay").disabled = false;
      schedule();
    }
  }
  function newSearch() {
    for (const id of ["from", "to", "name", "email", "notes", "card"]) $(id).value = "";
    for (const r of document.querySelectorAll("input[name=seat]")) r.checked = false;
    $("insurance").checked = false;
    $("passengers").value = "1";
    S.date = null;
    S.search = S.train = S.booking = null;
    $("date_value").textContent = "No date chosen";
    show("search");
  }

  // ---- what the layout report says about this page (report.js adds the boxes) ------------------
  function describe() {
    const open = ["from", "to"].find((k) => S.lists[k].length) || null;
    const calendarOpen = !$("calendar").hidden;
    return {
      page: S.page, message: S.message,
      values: {
        from: $("from").value, to: $("to").value, date: S.date, passengers: Number($("passengers").value),
        name: $("name").value, email: $("email").value, seat: seatValue(), insurance: $("insurance").checked,
        notes: $("notes").value, card_digits: $("card").value.replace(/\D/g, "").length,  // never the number
      },
      suggestions: open ? { field: open, query: S.query[open], items: S.lists[open],
        active: S.active[open] >= 0 ? S.lists[open][S.active[open]] : null } : null,
      calendar: { open: calendarOpen, month: calendarOpen ? S.month : null,
        label: calendarOpen ? $("month_label").textContent : null },
      search: S.search, rows: S.page === "results" ? S.results.map((t) => ({
        departure: t.departure, arrival: t.arrival, duration: t.duration, changes: t.changes, fare: t.fare })) : [],
      train: S.train ? S.train.departure : null, pay_label: S.page === "payment" ? $("pay").textContent : null,
      reference: S.booking ? S.booking.reference : null,
    };
  }
  let schedule = () => {};

  // ---- start -------------------------------------------------------------------------------------
  async function start() {
    S.config = await api("/api/config");
    setupCombo("from");
    setupCombo("to");
    $("date_button").addEventListener("click", () => ($("calendar").hidden ? openCalendar() : closeCalendar()));
    $("month_prev").addEventListener("click", () => shiftMonth(-1));
    $("month_next").addEventListener("click", () => shiftMonth(1));
    $("days").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-day]");
      if (b && !b.disabled) chooseDay(b.dataset.day);
    });
    $("calendar").addEventListener("keydown", (e) => { if (e.key === "Escape") { closeCalendar(); $("date_button").focus(); } });
    document.addEventListener("mousedown", (e) => {
      if (!$("calendar").hidden && !$("calendar").contains(e.target) && !$("date_button").contains(e.target)) closeCalendar();
    });
    $("search-form").addEventListener("submit", onSearch);
    $("change_search").addEventListener("click", () => show("search"));
    $("details-form").addEventListener("submit", onDetails);
    $("back_results").addEventListener("click", () => show("results"));
    $("back_details").addEventListener("click", () => show("details"));
    $("pay").addEventListener("click", onPay);
    $("new_search").addEventListener("click", newSearch);
    schedule = window.startLayoutReport(describe);
    show("search");
  }
  start();
})();
