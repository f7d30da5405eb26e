/* shopbot chat widget: one <script src=".../widget.js"> tag, no external requests.
   Options (data- attributes on the script tag): data-title, data-color, data-greeting, data-lang.
   Every piece of customer, bot or agent text is inserted with textContent, never as HTML. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script.src, location.href).origin;
  var opts = {
    title: script.getAttribute("data-title") || "Chat with us",
    color: script.getAttribute("data-color") || "#1f6feb",
    greeting: script.getAttribute("data-greeting") || "",
    lang: script.getAttribute("data-lang") || document.documentElement.lang || "en"
  };
  var KEY = "shopbot:" + base;
  var state = JSON.parse(localStorage.getItem(KEY) || "null") || { sender: "web-" + Math.random().toString(36).slice(2, 12), log: [], open: false };
  function save() { state.log = state.log.slice(-100); localStorage.setItem(KEY, JSON.stringify(state)); }

  var css = document.createElement("style");
  css.textContent =
    ".sb-launch{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;color:#fff;font-size:26px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}" +
    ".sb-panel{position:fixed;right:20px;bottom:88px;width:370px;max-width:calc(100vw - 24px);height:560px;max-height:calc(100vh - 110px);background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:none;flex-direction:column;overflow:hidden;z-index:2147483000;font:14px/1.4 system-ui,-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',sans-serif;color:#1d2330}" +
    ".sb-panel.sb-open{display:flex}.sb-head{color:#fff;padding:12px 14px;font-weight:600;display:flex;justify-content:space-between;align-items:center}" +
    ".sb-head button{background:transparent;border:0;color:#fff;font-size:18px;cursor:pointer}" +
    ".sb-log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f7f8fa}" +
    ".sb-msg{max-width:85%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word}" +
    ".sb-user{align-self:flex-end;color:#fff}.sb-bot{align-self:flex-start;background:#fff;border:1px solid #e3e6eb}" +
    ".sb-btns{display:flex;flex-wrap:wrap;gap:6px;align-self:flex-start}.sb-btns button{border:1px solid #c9ced6;background:#fff;border-radius:14px;padding:4px 10px;cursor:pointer}" +
    ".sb-card{align-self:flex-start;background:#fff;border:1px solid #e3e6eb;border-radius:10px;padding:8px 10px;max-width:85%}.sb-card b{display:block}" +
    ".sb-meta{font-size:12px;color:#5b6472;align-self:flex-start;display:flex;gap:8px;flex-wrap:wrap}.sb-meta button{border:0;background:transparent;cursor:pointer;font-size:14px}" +
    ".sb-src{color:#1f6feb;cursor:pointer;text-decoration:underline}" +
    ".sb-form{display:flex;border-top:1px solid #e3e6eb}.sb-form textarea{flex:1;border:0;padding:10px;resize:none;font:inherit}.sb-form button{border:0;color:#fff;padding:0 16px;cursor:pointer}" +
    ".sb-typing{font-size:12px;color:#5b6472;padding:0 12px 6px;background:#f7f8fa;min-height:16px}";
  document.head.appendChild(css);

  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  var launch = el("button", "sb-launch", "\u{1F4AC}");
  launch.style.background = opts.color; launch.setAttribute("aria-label", "Open chat");
  var panel = el("section", "sb-panel"); panel.setAttribute("role", "dialog"); panel.setAttribute("aria-label", opts.title); panel.lang = opts.lang;
  var head = el("div", "sb-head"); head.style.background = opts.color;
  head.appendChild(el("span", null, opts.title));
  var close = el("button", null, "\u00D7"); close.setAttribute("aria-label", "Close chat"); head.appendChild(close);
  var logEl = el("div", "sb-log"); logEl.setAttribute("role", "log"); logEl.setAttribute("aria-live", "polite");
  var typing = el("div", "sb-typing");
  var form = el("form", "sb-form");
  var input = el("textarea"); input.rows = 2; input.maxLength = 2000; input.setAttribute("aria-label", "Your message"); input.placeholder = "Type your message\u2026";
  var send = el("button", null, "Send"); send.type = "submit"; send.style.background = opts.color;
  form.appendChild(input); form.appendChild(send);
  panel.appendChild(head); panel.appendChild(logEl); panel.appendChild(typing); panel.appendChild(form);
  document.body.appendChild(launch); document.body.appendChild(panel);

  function scroll() { logEl.scrollTop = logEl.scrollHeight; }
  function addUser(text) { var m = el("div", "sb-msg sb-user", text); m.style.background = opts.color; logEl.appendChild(m); scroll(); }
  function addBotText(text) { var m = el("div", "sb-msg sb-bot", text); logEl.appendChild(m); scroll(); return m; }
  function renderMessage(msg) {
    if (msg.text) addBotText(msg.text);
    if (msg.custom && msg.custom.type === "product_cards") {
      (msg.custom.products || []).slice(0, 4).forEach(function (p) {
        var c = el("div", "sb-card"); c.appendChild(el("b", null, p.title));
        var price = p.price_min === p.price_max ? "$" + Number(p.price_min).toFixed(2) : "$" + Number(p.price_min).toFixed(2) + " \u2013 $" + Number(p.price_max).toFixed(2);
        c.appendChild(el("span", null, price + " \u00B7 " + (p.in_stock ? "in stock" : "sold out")));
        logEl.appendChild(c);
      });
    }
    if (msg.buttons && msg.buttons.length) {
      var row = el("div", "sb-btns"); row.setAttribute("role", "group");
      msg.buttons.forEach(function (b) {
        var btn = el("button", null, b.title); btn.type = "button";
        btn.addEventListener("click", function () { ask(b.payload || b.title, b.title); });
        row.appendChild(btn);
      });
      logEl.appendChild(row);
    }
    scroll();
  }
  function renderMeta(data) {
    var meta = el("div", "sb-meta");
    (data.sources || []).forEach(function (s) {
      var a = el("span", "sb-src", s.title); a.tabIndex = 0; a.setAttribute("role", "button");
      a.title = s.type + " " + s.id; meta.appendChild(a);
    });
    if (data.turn_id) {
      [["\u{1F44D}", 1, "Helpful"], ["\u{1F44E}", -1, "Not helpful"]].forEach(function (f) {
        var b = el("button", null, f[0]); b.type = "button"; b.setAttribute("aria-label", f[2]);
        b.addEventListener("click", function () {
          fetch(base + "/api/feedback", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sender: state.sender, turn_id: data.turn_id, rating: f[1] }) });
          meta.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        });
        meta.appendChild(b);
      });
    }
    logEl.appendChild(meta); scroll();
  }
  function replay() {
    logEl.textContent = "";
    if (!state.log.length) addBotText(opts.greeting || "Hi! How can I help you today?");
    state.log.forEach(function (entry) { if (entry.user) addUser(entry.user); (entry.messages || []).forEach(renderMessage); if (entry.meta) renderMeta(entry.meta); });
  }

  var busy = false;
  function ask(text, shown) {
    if (busy || !text.trim()) return;
    busy = true; addUser(shown || text); typing.textContent = "typing\u2026";
    var live = null;
    fetch(base + "/api/chat", { method: "POST", headers: { "Content-Type": "application/json", "Accept": "text/event-stream" }, body: JSON.stringify({ sender: state.sender, message: text }) })
      .then(function (resp) {
        if (!resp.ok) return resp.json().then(function (e) { throw new Error(e.error ? e.error.message : resp.statusText); });
        var reader = resp.body.getReader(), dec = new TextDecoder(), buf = "";
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) return;
            buf += dec.decode(r.value, { stream: true });
            var parts = buf.split("\n\n"); buf = parts.pop();
            parts.forEach(function (chunk) {
              var ev = (chunk.match(/^event: (.*)$/m) || [])[1], raw = (chunk.match(/^data: (.*)$/m) || [])[1];
              if (!ev || !raw) return; var data = JSON.parse(raw);
              if (ev === "token") { if (!live) live = addBotText(""); live.textContent += data.text; scroll(); }
              else if (ev === "replace") { if (!live) live = addBotText(""); live.textContent = data.text; }
              else if (ev === "done") {
                if (live) live.remove();
                data.messages.forEach(renderMessage); renderMeta(data);
                state.log.push({ user: shown || text, messages: data.messages, meta: { sources: data.sources, turn_id: data.turn_id } }); save();
              } else if (ev === "error") { addBotText("Sorry, something went wrong. Please try again."); }
            });
            return pump();
          });
        }
        return pump();
      })
      .catch(function (err) { addBotText(String(err.message || err)); })
      .then(function () { busy = false; typing.textContent = ""; });
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); var t = input.value; input.value = ""; ask(t); });
  input.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
  function setOpen(open) { state.open = open; save(); panel.classList.toggle("sb-open", open); launch.setAttribute("aria-expanded", String(open)); if (open) input.focus(); }
  launch.addEventListener("click", function () { setOpen(!panel.classList.contains("sb-open")); });
  close.addEventListener("click", function () { setOpen(false); launch.focus(); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { setOpen(false); launch.focus(); } });
  replay(); setOpen(!!state.open);
})();
