/* shopbot chat widget: one <script src="https://shop.example/widget.js" data-...> tag.
 *
 * Options (data- attributes on the script tag):
 *   data-title, data-color (accent), data-text-color (text on the accent),
 *   data-greeting, data-lang ("en", "zh", ...; default: the page's lang),
 *   data-quick-replies ("Track my order|Returns|Shipping"), data-position ("right" | "left"),
 *   data-open ("true" opens the panel on first visit).
 *
 * Talks only to the server it was loaded from (no other network requests):
 *   POST /api/chat (Accept: text/event-stream) streams a reply token by token;
 *   GET /api/events?sender=..&token=..&after=.. is the live, resumable log of the conversation
 *   (agent replies, notices, turns from other tabs); events carry ids and every turn a
 *   turn_id, so after a dropped connection or a reload nothing is lost or shown twice.
 * The sender id is only a name: the conversation's first reply carries a secret token, kept
 * here beside the id and sent with every message, event stream and rating of the conversation.
 * Lives in a shadow root, so the host page's CSS and ours cannot clash.
 * Every piece of customer, bot or agent text is inserted with textContent, never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__shopbotWidget) return;
  window.__shopbotWidget = true;
  var base = script.src.replace(/\/widget\.js(\?.*)?$/, "");
  var data = function (name, fallback) { var v = script.getAttribute("data-" + name); return v == null || v === "" ? fallback : v; };
  var lang = data("lang", document.documentElement.lang || "en");
  var zh = /^zh/i.test(lang);
  var T = zh ? {
    open: "打开聊天", close: "关闭聊天", title: "在线客服", placeholder: "输入您的消息…", send: "发送",
    typing: "正在输入…", helpful: "有帮助", unhelpful: "没有帮助", thanks: "感谢您的反馈", sources: "来源：",
    inStock: "有货", soldOut: "缺货", waiting: "正在为您转接人工客服…", withAgent: "人工客服已接入",
    reconnecting: "连接中断，正在重新连接…", notSent: "消息未发送，请重试。", greeting: "您好！有什么可以帮您？",
    agent: "客服", more: "更多", error: "抱歉，出了点问题，请重试。", quick: "查询订单|退货政策|配送时间"
  } : {
    open: "Open chat", close: "Close chat", title: "Chat with us", placeholder: "Type your message\u2026", send: "Send",
    typing: "typing\u2026", helpful: "Helpful", unhelpful: "Not helpful", thanks: "Thanks for the feedback", sources: "Sources:",
    inStock: "in stock", soldOut: "sold out", waiting: "Waiting for a member of our team\u2026", withAgent: "You're chatting with our team",
    reconnecting: "Connection lost, reconnecting\u2026", notSent: "Your message was not sent. Press Send to try again.",
    greeting: "Hi! How can I help you today?", agent: "Agent", more: "more", error: "Sorry, something went wrong. Please try again.",
    quick: "Where is my order?|What is your return policy?|How long does shipping take?"
  };
  var opts = {
    title: data("title", T.title), color: data("color", "#1f6feb"), textColor: data("text-color", "#ffffff"),
    greeting: data("greeting", null), quick: data("quick-replies", T.quick).split("|").filter(Boolean),
    left: data("position", "right") === "left", openFirst: data("open", "false") === "true"
  };

  // -- state kept across reloads ------------------------------------------------
  var KEY = "shopbot:" + base;
  function newSender() {
    var b = new Uint8Array(12); (window.crypto || window.msCrypto).getRandomValues(b);
    return "web-" + Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  var state;
  try { state = JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { state = null; }
  if (!state || !state.sender) state = { sender: newSender(), log: [], lastEventId: 0, open: opts.openFirst };
  state.log = state.log || []; state.lastEventId = state.lastEventId || 0;
  // The store's greeting (when the tag sets none and it is in the widget's language),
  // remembered from the last /api/store answer so a reload does not flicker.
  function storeGreeting(s) { return s && s.greeting && (s.language || "en").slice(0, 2) === lang.slice(0, 2) ? s.greeting : null; }
  if (!opts.greeting) opts.greeting = storeGreeting(state.store) || T.greeting;
  function save() {
    state.log = state.log.slice(-150);
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* storage full or blocked: the server log still has it */ }
  }
  function seen(turnId) { return state.log.some(function (x) { return x.turn_id === turnId; }); }

  // -- DOM ----------------------------------------------------------------------
  var host = document.createElement("div");
  host.id = "shopbot-widget";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var side = opts.left ? "left" : "right";
  var css = document.createElement("style");
  css.textContent =
    ":host{all:initial}" +
    "*{box-sizing:border-box}" +
    ".launch{position:fixed;" + side + ":20px;bottom:20px;width:58px;height:58px;border-radius:50%;border:0;display:flex;align-items:center;justify-content:center;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}" +
    ".panel{position:fixed;" + side + ":20px;bottom:90px;width:380px;max-width:calc(100vw - 24px);height:600px;max-height:calc(100vh - 110px);background:#fff;border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:none;flex-direction:column;overflow:hidden;z-index:2147483000;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif;color:#1d2330;text-align:left}" +
    ".panel.open{display:flex}" +
    ".head{padding:12px 14px;font-weight:600;font-size:15px;display:flex;justify-content:space-between;align-items:center;gap:8px}" +
    ".head button{background:transparent;border:0;color:inherit;font-size:22px;line-height:1;cursor:pointer;padding:2px 6px;border-radius:6px}" +
    ".banner{font-size:12px;padding:5px 12px;background:#fff7e0;color:#6b5200;border-bottom:1px solid #f0e2b6}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f7f8fa}" +
    ".msg{max-width:86%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".user{align-self:flex-end;border-bottom-right-radius:4px}" +
    ".bot{align-self:flex-start;background:#fff;border:1px solid #e3e6eb;border-bottom-left-radius:4px}" +
    ".agent{align-self:flex-start;background:#eaf7ee;border:1px solid #bfe5c9;border-bottom-left-radius:4px}" +
    ".who{display:block;font-size:11px;color:#2f6b3f;font-weight:600;margin-bottom:2px}" +
    ".notice{align-self:center;font-size:12px;color:#5b6472;text-align:center;max-width:90%}" +
    ".btns{display:flex;flex-wrap:wrap;gap:6px;align-self:flex-start}" +
    ".btns button,.quick button{border:1px solid #c9ced6;background:#fff;border-radius:16px;padding:5px 11px;cursor:pointer;font:inherit;color:#1d2330}" +
    ".btns button:hover,.quick button:hover{background:#eef2f7}" +
    ".quick{display:flex;flex-wrap:wrap;gap:6px;align-self:flex-start}" +
    ".card{align-self:flex-start;background:#fff;border:1px solid #e3e6eb;border-radius:10px;padding:9px 11px;width:86%}" +
    ".card h3{font-size:14px;margin:0 0 2px}.card .price{font-weight:600}.card .stock{font-size:12px;margin-left:6px}" +
    ".card .in{color:#1a7f37}.card .out{color:#b42318}" +
    ".card ul{list-style:none;margin:6px 0 0;padding:0;font-size:12px;color:#3a4250}.card li{padding:2px 0;border-top:1px dashed #eceef2}" +
    ".meta{font-size:12px;color:#5b6472;align-self:flex-start;display:flex;gap:6px;flex-wrap:wrap;align-items:center;max-width:92%}" +
    ".meta button{border:0;background:transparent;cursor:pointer;font:inherit;color:#5b6472;padding:2px 4px;border-radius:6px;line-height:0}" +
    ".meta button.src{line-height:inherit}.meta button:hover{color:#1d2330}" +
    ".meta button.src{color:#1f5fbf;text-decoration:underline}.meta button[aria-pressed=true]{background:#e3e9f3}" +
    ".passage{align-self:flex-start;max-width:92%;font-size:12px;background:#fff;border-left:3px solid #9db6dc;padding:6px 9px;white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".passage b{display:block;margin-bottom:2px}" +
    ".typing{display:none;align-self:flex-start;background:#fff;border:1px solid #e3e6eb;border-radius:12px;padding:8px 12px}" +
    ".typing.on{display:block}.typing i{display:inline-block;width:6px;height:6px;margin:0 2px;border-radius:50%;background:#8a93a3;animation:sb-blink 1.2s infinite}" +
    ".typing i:nth-child(2){animation-delay:.2s}.typing i:nth-child(3){animation-delay:.4s}" +
    "@keyframes sb-blink{0%,80%,100%{opacity:.25}40%{opacity:1}}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    ".status{font-size:12px;color:#b42318;padding:0 12px;background:#f7f8fa;min-height:0}" +
    ".form{display:flex;border-top:1px solid #e3e6eb;background:#fff}" +
    ".form textarea{flex:1;border:0;padding:11px;resize:none;font:inherit;color:inherit;background:transparent;min-height:46px}" +
    ".form button{border:0;padding:0 16px;cursor:pointer;font:inherit;font-weight:600}" +
    "button:focus-visible,textarea:focus-visible{outline:3px solid #1f6feb;outline-offset:1px}" +
    "@media (max-width:520px){.panel{left:0;right:0;top:0;bottom:0;width:100%;max-width:100%;height:100%;max-height:100%;border-radius:0}.panel.open~.launch{display:none}.form textarea{font-size:16px}}" +
    "@media (prefers-reduced-motion:reduce){.typing i{animation:none}}";
  root.appendChild(css);

  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  // Icons are inline SVG paths (Material Icons, Apache-2.0): no emoji font or icon file needed.
  var ICONS = {
    chat: "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z",
    thumb: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z"
  };
  function icon(name, size, flip) {
    var NS = "http://www.w3.org/2000/svg", svg = document.createElementNS(NS, "svg"), path = document.createElementNS(NS, "path");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", size); svg.setAttribute("height", size);
    svg.setAttribute("aria-hidden", "true"); svg.setAttribute("focusable", "false"); svg.setAttribute("fill", "currentColor");
    path.setAttribute("d", ICONS[name]); if (flip) path.setAttribute("transform", "rotate(180 12 12)");
    svg.appendChild(path); return svg;
  }
  var panel = el("section", "panel");
  panel.id = "sb-panel"; panel.setAttribute("role", "dialog"); panel.setAttribute("aria-labelledby", "sb-title"); panel.lang = lang;
  var head = el("div", "head"); head.style.background = opts.color; head.style.color = opts.textColor;
  var title = el("span", null, opts.title); title.id = "sb-title"; head.appendChild(title);
  var closeBtn = el("button", null, "\u00D7"); closeBtn.type = "button"; closeBtn.setAttribute("aria-label", T.close); head.appendChild(closeBtn);
  var banner = el("div", "banner"); banner.setAttribute("role", "status"); banner.hidden = true;
  var logEl = el("div", "log"); logEl.setAttribute("role", "log"); logEl.setAttribute("aria-live", "polite"); logEl.setAttribute("aria-label", opts.title);
  var typing = el("div", "typing"); typing.setAttribute("role", "status");
  typing.appendChild(el("i")); typing.appendChild(el("i")); typing.appendChild(el("i")); typing.appendChild(el("span", "sr", T.typing));
  var statusEl = el("div", "status"); statusEl.setAttribute("role", "alert");
  var form = el("form", "form");
  var input = el("textarea"); input.rows = 1; input.setAttribute("aria-label", T.placeholder.replace(/\u2026$/, "")); input.placeholder = T.placeholder;
  var sendBtn = el("button", null, T.send); sendBtn.type = "submit"; sendBtn.style.background = opts.color; sendBtn.style.color = opts.textColor;
  form.appendChild(input); form.appendChild(sendBtn);
  panel.appendChild(head); panel.appendChild(banner); panel.appendChild(logEl); panel.appendChild(statusEl); panel.appendChild(form);
  var launch = el("button", "launch"); launch.appendChild(icon("chat", 28));
  launch.type = "button"; launch.style.background = opts.color; launch.style.color = opts.textColor;
  launch.setAttribute("aria-label", T.open); launch.setAttribute("aria-controls", "sb-panel"); launch.setAttribute("aria-expanded", "false");
  root.appendChild(panel); root.appendChild(launch);
  document.body.appendChild(host);

  function scroll() { logEl.scrollTop = logEl.scrollHeight; }
  function add(node) { logEl.insertBefore(node, typing.parentNode === logEl ? typing : null); scroll(); return node; }
  logEl.appendChild(typing);

  // -- rendering ----------------------------------------------------------------
  // The store's currency comes from /api/store; until then (or if that fails) prices show as USD.
  var currency = (state.store && state.store.currency) || "USD";
  function money(v) {
    if (v == null) return "";
    try { return new Intl.NumberFormat(lang, { style: "currency", currency: currency }).format(v); }
    catch (e) { return Number(v).toFixed(2) + " " + currency; }
  }
  function renderCard(p) {
    var c = el("div", "card"); c.setAttribute("role", "group"); c.setAttribute("aria-label", p.title);
    c.appendChild(el("h3", null, p.title));
    var price = p.price_min == null ? "" : p.price_min === p.price_max ? money(p.price_min) : money(p.price_min) + " \u2013 " + money(p.price_max);
    c.appendChild(el("span", "price", price));
    c.appendChild(el("span", "stock " + (p.in_stock ? "in" : "out"), p.in_stock ? T.inStock : T.soldOut));
    var variants = p.variants || [];
    if (variants.length) {
      var ul = el("ul");
      variants.slice(0, 5).forEach(function (v) {
        var opt = Object.keys(v.options || {}).map(function (k) { return k + ": " + v.options[k]; }).join(" \u00B7 ");
        ul.appendChild(el("li", null, opt + " \u2014 " + money(v.price) + " \u00B7 " + (v.available ? T.inStock : T.soldOut)));
      });
      if (variants.length > 5) ul.appendChild(el("li", null, "+" + (variants.length - 5) + " " + T.more));
      c.appendChild(ul);
    }
    add(c);
  }
  function renderButtons(buttons) {
    var row = el("div", "btns"); row.setAttribute("role", "group");
    buttons.forEach(function (b) {
      var btn = el("button", null, b.title); btn.type = "button";
      btn.addEventListener("click", function () { ask(b.payload || b.title, b.title); });
      row.appendChild(btn);
    });
    add(row);
  }
  function renderMessage(msg, author) {
    if (msg.text) {
      if (author === "system") add(el("div", "notice", msg.text));
      else if (author === "agent") {
        var m = el("div", "msg agent"); m.appendChild(el("span", "who", msg.agent || T.agent)); m.appendChild(document.createTextNode(msg.text)); add(m);
      } else add(el("div", "msg bot", msg.text));
    }
    var custom = msg.custom || {};
    if (custom.type === "product_cards") (custom.products || []).slice(0, 4).forEach(renderCard);
    if (msg.buttons && msg.buttons.length) renderButtons(msg.buttons);
  }
  function openSource(s, btn, meta) {
    var shown = btn._passage;
    if (shown) { shown.remove(); btn._passage = null; btn.setAttribute("aria-expanded", "false"); return; }
    btn.setAttribute("aria-expanded", "true");
    fetch(base + "/api/sources/" + encodeURIComponent(s.id)).then(function (r) {
      if (!r.ok) throw new Error(r.statusText); return r.json();
    }).then(function (p) {
      var box = el("div", "passage"); box.setAttribute("role", "region"); box.setAttribute("aria-label", p.title);
      box.appendChild(el("b", null, p.title)); box.appendChild(document.createTextNode(p.text));
      logEl.insertBefore(box, meta.nextSibling); btn._passage = box;
    }).catch(function () { btn.setAttribute("aria-expanded", "false"); });
  }
  function renderMeta(entry) {
    var meta = el("div", "meta");
    var sources = entry.sources || [];
    if (sources.length) meta.appendChild(el("span", null, T.sources));
    sources.forEach(function (s) {
      var b = el("button", "src", s.title); b.type = "button"; b.setAttribute("aria-expanded", "false");
      b.addEventListener("click", function () { openSource(s, b, meta); });
      meta.appendChild(b);
    });
    [[false, 1, T.helpful], [true, -1, T.unhelpful]].forEach(function (f) {
      var b = el("button", "rate"); b.type = "button"; b.setAttribute("aria-label", f[2]); b.appendChild(icon("thumb", 15, f[0]));
      b.setAttribute("aria-pressed", String(entry.rating === f[1]));
      b.addEventListener("click", function () {
        fetch(base + "/api/feedback", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sender: state.sender, token: state.token, turn_id: entry.turn_id, rating: f[1] }) })
          .then(function (r) {
            if (!r.ok) return;
            entry.rating = f[1]; save();
            meta.querySelectorAll("button.rate").forEach(function (x) { x.setAttribute("aria-pressed", String(x === b)); });
            thanks.textContent = T.thanks;
          });
      });
      meta.appendChild(b);
    });
    var thanks = el("span", "thanks"); meta.appendChild(thanks);
    add(meta);
  }
  function renderEntry(entry) {
    if (entry.user) { var u = el("div", "msg user", entry.user); u.style.background = opts.color; u.style.color = opts.textColor; add(u); }
    (entry.messages || []).forEach(function (m) { renderMessage(m, entry.author); });
    if (entry.author === "bot" && entry.turn_id && (entry.messages || []).some(function (m) { return m.text; })) renderMeta(entry);
  }
  function renderBanner() {
    var status = "";
    state.log.forEach(function (e) {
      if (!e.handoff) status = "";
      else if (e.author === "agent" || e.action === "agent_joined") status = T.withAgent;
      else if (!status) status = T.waiting;
    });
    banner.textContent = status; banner.hidden = !status;
  }
  var greetingEl = null;
  // A quick reply's row goes once used; focus moves to the input so it is not lost with it.
  function renderAll() {
    while (logEl.firstChild !== typing) logEl.removeChild(logEl.firstChild);
    greetingEl = add(el("div", "msg bot", opts.greeting));
    if (!state.log.length && opts.quick.length) {
      var q = el("div", "quick"); q.setAttribute("role", "group");
      opts.quick.forEach(function (t) { var b = el("button", null, t); b.type = "button"; b.addEventListener("click", function () { q.remove(); input.focus(); ask(t); }); q.appendChild(b); });
      add(q);
    }
    state.log.forEach(renderEntry);
    renderBanner();
  }
  function record(entry) {
    if (seen(entry.turn_id)) return false;
    state.log.push(entry); save(); renderEntry(entry); renderBanner();
    return true;
  }

  // -- the live event stream ----------------------------------------------------
  var source = null, queued = [], busy = false, pendingCheck = null;
  function onTurn(ev) {
    var d = JSON.parse(ev.data);
    state.lastEventId = Math.max(state.lastEventId, d.id || 0);
    var entry = { turn_id: d.turn_id, author: d.author, user: d.user, messages: d.messages, sources: d.sources, action: d.action, handoff: d.handoff };
    // While our own reply streams in, hold events: its "done" comes with the same turn_id.
    if (busy) queued.push(entry); else if (!record(entry)) save();
    if (pendingCheck && d.author === "bot" && d.user) pendingCheck.arrived = true;
  }
  function connect() {
    if (source) source.close();
    if (!state.token) { source = null; return; }  // no conversation yet: nothing to follow
    // ?after= on first connect; EventSource itself resends Last-Event-ID on reconnects.
    source = new EventSource(base + "/api/events?sender=" + encodeURIComponent(state.sender) +
      "&token=" + encodeURIComponent(state.token) + "&after=" + state.lastEventId);
    source.addEventListener("turn", onTurn);
    source.addEventListener("synced", function () {
      // data-connection on the panel: "live" once caught up, "reconnecting" while the stream is down.
      // Clears only its own "reconnecting" note: an error about a message stays until the next send.
      if (statusEl.textContent === T.reconnecting) statusEl.textContent = "";
      panel.setAttribute("data-connection", "live");
      if (pendingCheck) {  // a send failed mid-way: did the server get it?
        var p = pendingCheck; pendingCheck = null;
        if (!p.arrived) { input.value = p.text; statusEl.textContent = T.notSent; }
      }
    });
    source.addEventListener("error", function () {
      statusEl.textContent = T.reconnecting; panel.setAttribute("data-connection", "reconnecting");
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    });
  }
  function flush() {
    var q = queued; queued = [];
    q.forEach(function (entry) { record(entry); });
  }

  // -- sending ------------------------------------------------------------------
  function ask(text, shown, retried) {
    if (busy || !text.trim()) return;
    busy = true; statusEl.textContent = "";
    var userBubble = el("div", "msg user", shown || text); userBubble.style.background = opts.color; userBubble.style.color = opts.textColor;
    add(userBubble); typing.classList.add("on"); scroll();
    var live = null, finished = false;
    function fail(message, delivered) {
      if (live) live.remove();
      userBubble.remove();
      if (delivered === false) { statusEl.textContent = message; input.value = text; return; }
      // The connection dropped: the event stream tells us whether the turn was logged.
      pendingCheck = { text: text, arrived: false }; connect();
    }
    fetch(base + "/api/chat", { method: "POST", headers: { "Content-Type": "application/json", "Accept": "text/event-stream" }, body: JSON.stringify({ sender: state.sender, message: text, token: state.token || undefined }) })
      .then(function (resp) {
        if ((resp.status === 401 || resp.status === 403) && !retried) {
          // The server no longer knows this conversation's token (its log was deleted, or the
          // token was lost): start a new conversation and send the message there.
          finished = true; userBubble.remove(); if (source) { source.close(); source = null; }
          state = { sender: newSender(), log: [], lastEventId: 0, open: true }; save(); renderAll();
          setTimeout(function () { ask(text, shown, true); }, 0);
          return;
        }
        if (!resp.ok) {
          return resp.json().catch(function () { return {}; }).then(function (e) { fail(e.error ? e.error.message : T.error, false); finished = true; });
        }
        var reader = resp.body.getReader(), dec = new TextDecoder(), buf = "";
        function handle(chunk) {
          var ev = "message", raw = [];
          chunk.split(/\r?\n/).forEach(function (line) {
            if (line.indexOf("event:") === 0) ev = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) raw.push(line.slice(5).replace(/^ /, ""));
          });
          if (!raw.length) return;
          var d = JSON.parse(raw.join("\n"));
          if (ev === "token") { typing.classList.remove("on"); if (!live) live = add(el("div", "msg bot", "")); live.textContent += d.text; scroll(); }
          else if (ev === "replace") { if (!live) live = add(el("div", "msg bot", "")); live.textContent = d.text; }
          else if (ev === "done") {
            finished = true;
            if (d.token && d.token !== state.token) { state.token = d.token; save(); }
            if (live) live.remove();
            userBubble.remove();
            record({ turn_id: d.turn_id, author: "bot", user: shown || text, messages: d.messages, sources: d.sources, action: d.action, handoff: d.handoff });
          } else if (ev === "error") { finished = true; fail(T.error, false); }
        }
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) { if (buf.trim()) handle(buf); return; }
            buf += dec.decode(r.value, { stream: true });
            var parts = buf.split(/\r?\n\r?\n/); buf = parts.pop();
            parts.forEach(handle);
            return pump();
          });
        }
        return pump();
      })
      .catch(function () { })
      .then(function () {
        if (!finished) fail(T.error);
        busy = false; typing.classList.remove("on"); flush();
        if (!source) connect();
      });
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); var t = input.value; if (!t.trim()) return; input.value = ""; ask(t); });
  input.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); } });
  function setOpen(open) {
    state.open = open; save();
    panel.classList.toggle("open", open); launch.setAttribute("aria-expanded", String(open));
    launch.setAttribute("aria-label", open ? T.close : T.open);
    if (open) { input.focus(); scroll(); }
  }
  launch.addEventListener("click", function () { setOpen(!panel.classList.contains("open")); });
  closeBtn.addEventListener("click", function () { setOpen(false); launch.focus(); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { setOpen(false); launch.focus(); } });
  window.addEventListener("online", function () { if (source && source.readyState === EventSource.CLOSED) connect(); });

  renderAll(); setOpen(!!state.open);
  // The store's own greeting (unless the tag sets one) and currency.
  fetch(base + "/api/store").then(function (r) { return r.ok ? r.json() : null; }).then(function (s) {
    if (!s) return;
    if (s.currency && s.currency !== currency) { currency = s.currency; if (!busy) renderAll(); }
    state.store = { currency: s.currency, greeting: s.greeting, language: s.language }; save();
    if (!script.getAttribute("data-greeting") && storeGreeting(s)) {
      opts.greeting = s.greeting; if (greetingEl) greetingEl.textContent = s.greeting;
    }
  }).catch(function () { /* defaults stay */ });
  // Follow the conversation live once there is one (agent replies, other tabs).
  if (state.log.length) connect();
})();
