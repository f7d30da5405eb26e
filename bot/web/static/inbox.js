/* shopbot agent inbox. Authenticated by the admin cookie (set when the page was
   opened with ?token=). Live: an EventSource on /api/inbox/events tells which
   conversation changed; the page refetches it. All customer and agent text is
   inserted with textContent, never as HTML. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var agentInput = $("agent"), queueEl = $("queue"), transcript = $("transcript"), statusEl = $("status");
  var selected = null, current = null, lastEventId = 0, source = null;

  agentInput.value = localStorage.getItem("shopbot-agent") || "";
  agentInput.addEventListener("change", function () { localStorage.setItem("shopbot-agent", agentInput.value.trim()); render(); });
  function agent() { return agentInput.value.trim(); }

  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function when(ts) { return ts ? new Date(ts * 1000).toLocaleString() : ""; }
  function ago(ts) {
    var s = Math.max(0, Date.now() / 1000 - ts);
    return s < 60 ? "just now" : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago";
  }
  function status(text) { statusEl.textContent = text || ""; }

  function api(path, body) {
    var init = body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } : {};
    init.credentials = "same-origin";
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
        return data;
      });
    });
  }

  function loadQueue() {
    return api("/api/inbox/handoffs").then(function (data) {
      lastEventId = Math.max(lastEventId, data.last_event_id || 0);
      queueEl.textContent = "";
      $("empty").hidden = data.handoffs.length > 0;
      data.handoffs.forEach(function (h) {
        var li = el("li"), b = el("button");
        b.type = "button"; b.dataset.sender = h.sender;
        if (h.sender === selected) b.setAttribute("aria-current", "true");
        var name = el("span", "q-name", (h.customer && h.customer.name) || h.sender);
        name.appendChild(el("span", "badge" + (h.customer && h.customer.verified ? " ok" : ""), h.customer && h.customer.verified ? "verified" : "not verified"));
        if (h.claimed_by) name.appendChild(el("span", "badge claimed", "claimed by " + h.claimed_by));
        b.appendChild(name);
        b.appendChild(el("span", "q-reason", h.reason));
        b.appendChild(el("span", "q-meta", "waiting since " + ago(h.created_at) + (h.last_message ? " · \u201C" + h.last_message + "\u201D" : "")));
        b.addEventListener("click", function () { select(h.sender); });
        li.appendChild(b); queueEl.appendChild(li);
      });
      if (selected && !data.handoffs.some(function (h) { return h.sender === selected; })) loadConversation();
    }).catch(function (e) { status("Could not load the queue: " + e.message); });
  }

  function select(sender) {
    selected = sender;
    Array.prototype.forEach.call(queueEl.querySelectorAll("button"), function (b) {
      if (b.dataset.sender === sender) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
    });
    loadConversation().then(function () { transcript.focus(); });
  }

  function loadConversation() {
    if (!selected) return Promise.resolve();
    return api("/api/inbox/conversation?sender=" + encodeURIComponent(selected)).then(function (data) {
      current = data; render();
    }).catch(function (e) { status(e.message); });
  }

  function render() {
    $("none").hidden = !!current;
    $("detail").classList.toggle("shown", !!current);
    if (!current) return;
    var c = current.customer, card = $("customer");
    card.textContent = "";
    card.appendChild(el("h2", null, c.name || "Unknown customer"));
    if (c.verified) {
      card.appendChild(el("p", null, "Verified \u2713 \u00B7 " + c.customer_id));
      card.appendChild(el("p", null, c.email + " \u00B7 zip " + c.zip));
      card.appendChild(el("p", null, c.order_count + " orders \u00B7 lifetime value $" + Number(c.lifetime_value).toFixed(2)));
      var table = el("table"), head = el("tr");
      ["Order", "Status", "Total", "Placed"].forEach(function (t) { head.appendChild(el("th", null, t)); });
      table.appendChild(head);
      (c.orders || []).forEach(function (o) {
        var tr = el("tr");
        [o.order_id, o.status, "$" + Number(o.total).toFixed(2), (o.created_at || "").slice(0, 10)].forEach(function (t) { tr.appendChild(el("td", null, t)); });
        table.appendChild(tr);
      });
      card.appendChild(table);
    } else {
      card.appendChild(el("p", null, "Not verified: identity unknown. Ask for the order email before sharing order details."));
      if (c.order_id) card.appendChild(el("p", null, "Mentioned order " + c.order_id));
    }
    var h = current.handoff, hcard = $("handoff");
    hcard.textContent = "";
    hcard.appendChild(el("h2", null, h ? "Handed off" : "With the bot"));
    if (h) {
      hcard.appendChild(el("p", null, "Why: " + h.reason));
      hcard.appendChild(el("p", null, "Since " + when(h.created_at)));
      hcard.appendChild(el("p", null, h.claimed_by ? "Claimed by " + h.claimed_by : "Not claimed yet"));
    } else {
      hcard.appendChild(el("p", null, "This conversation is not waiting for an agent."));
    }
    var mine = h && h.claimed_by && h.claimed_by === agent();
    $("claim").disabled = !h || !!h.claimed_by || !agent();
    $("handback").disabled = !h || (h.claimed_by && !mine) || !agent();
    $("reply-text").disabled = !mine;
    $("reply").querySelector("button").disabled = !mine;
    if (!agent()) status("Type your name at the top to claim conversations.");

    var atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
    transcript.textContent = "";
    current.transcript.forEach(function (t) {
      if (t.user) { var u = el("div", "m customer"); u.appendChild(el("small", null, "Customer \u00B7 " + when(t.ts))); u.appendChild(document.createTextNode(t.user)); transcript.appendChild(u); }
      (t.messages || []).forEach(function (m) {
        if (!m.text && !(m.custom && m.custom.products)) return;
        var who = t.author === "agent" ? (m.agent || "Agent") : t.author === "system" ? "" : "Bot";
        var d = el("div", "m " + (t.author || "bot"));
        if (who) d.appendChild(el("small", null, who + " \u00B7 " + when(t.ts)));
        var text = m.text || "";
        if (m.custom && m.custom.products) text += (text ? "\n" : "") + "[product cards: " + m.custom.products.map(function (p) { return p.title; }).join(", ") + "]";
        d.appendChild(document.createTextNode(text));
        transcript.appendChild(d);
      });
    });
    if (atBottom || transcript.dataset.sender !== current.sender) transcript.scrollTop = transcript.scrollHeight;
    transcript.dataset.sender = current.sender;
  }

  $("claim").addEventListener("click", function () {
    status("");
    api("/api/inbox/claim", { sender: selected, agent: agent() }).then(loadConversation).then(function () { $("reply-text").focus(); }).catch(function (e) { status(e.message); loadConversation(); });
  });
  $("handback").addEventListener("click", function () {
    status("");
    api("/api/inbox/handback", { sender: selected, agent: agent() }).then(function () { return Promise.all([loadQueue(), loadConversation()]); }).catch(function (e) { status(e.message); });
  });
  $("reply").addEventListener("submit", function (e) {
    e.preventDefault();
    var box = $("reply-text"), text = box.value;
    if (!text.trim()) return;
    status("");
    api("/api/inbox/reply", { sender: selected, agent: agent(), text: text }).then(function () { box.value = ""; return loadConversation(); })
      .catch(function (err) { status("Not sent: " + err.message); });
  });
  $("reply-text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("reply").requestSubmit(); }
  });

  var refreshTimer = null;
  function refreshSoon(sender) {
    if (sender === selected) loadConversation();
    clearTimeout(refreshTimer); refreshTimer = setTimeout(loadQueue, 150);
  }
  function connect() {
    if (source) source.close();
    // EventSource resends Last-Event-ID itself when it reconnects; ?after= covers the first connect.
    source = new EventSource("/api/inbox/events?after=" + lastEventId);
    source.addEventListener("open", function () { $("live").textContent = "live"; });
    source.addEventListener("change", function (e) {
      lastEventId = Math.max(lastEventId, Number(e.lastEventId) || 0);
      refreshSoon(JSON.parse(e.data).sender);
    });
    source.addEventListener("error", function () {
      $("live").textContent = "reconnecting…";
      if (source.readyState === EventSource.CLOSED) setTimeout(function () { loadQueue().then(connect); }, 3000);
    });
  }
  loadQueue().then(connect);
})();
