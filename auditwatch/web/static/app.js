// auditwatch web view: live updates over Server-Sent Events and in-place rendering.
//
// Everything the server sends is data, and much of it comes from audit logs, so
// it may hold markup an attacker wrote. It is only ever placed with
// textContent, never as HTML. Links are built from this app's base path and an
// encodeURIComponent'd id. Class names come from fixed lists. The page loads
// this file under a CSP without 'unsafe-inline'.
"use strict";

(function () {
  const body = document.body;
  const page = body.dataset.page;
  const base = body.dataset.base || "/";
  const SEVERITIES = ["info", "low", "medium", "high", "critical"];

  function el(tag, text, cls) {
    const n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = String(text);
    if (cls) n.className = cls;
    return n;
  }
  function td(content, cls) {
    const c = el("td", typeof content === "object" && content !== null ? null : content, cls);
    if (typeof content === "object" && content !== null) c.append(content);
    return c;
  }
  function cssWord(s) {
    return String(s).toLowerCase().replace(/[^a-z0-9-]/g, "").slice(0, 32);
  }
  function sev(s) {
    const v = SEVERITIES.includes(s) ? s : "unknown";
    return el("span", v, "sev sev-" + v);
  }
  function incidentHref(id) {
    return base + "incidents/" + encodeURIComponent(id);
  }
  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
    const cap = tbody.parentElement.querySelector("caption");
    if (cap) cap.hidden = rows.length > 0;
  }
  function code(text) {
    return el("code", text);
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401) {
      window.location.assign(base + "login");
      throw new Error("signed out");
    }
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }

  // -- the incident list -----------------------------------------------------
  function listRow(r, fresh) {
    const tr = el("tr", null, fresh ? "new" : "");
    tr.dataset.incident = r.incident_id;
    tr.append(td(sev(r.severity)));
    const a = el("a", r.identity_id);
    a.href = incidentHref(r.incident_id);
    tr.append(td(a, "ident"), td(r.kind), td(r.owner), td(r.rules),
      td(r.status, "status st-" + cssWord(r.status)),
      td(r.revoked ? "yes" : "no", r.revoked ? "revoked" : ""),
      td(r.opened, "time"), td(r.updated, "time"));
    return tr;
  }

  async function refreshList() {
    const tbody = document.getElementById("incidents");
    const seen = new Set(Array.from(tbody.rows, (tr) => tr.dataset.incident));
    const q = body.dataset.status === "all" ? "?status=all" : "";
    const doc = await getJSON(body.dataset.api + q);
    fill(tbody, doc.incidents.map((r) => listRow(r, !seen.has(r.incident_id))));
  }

  // -- one incident -------------------------------------------------------------
  function setText(id, text) {
    const n = document.getElementById(id);
    if (n) n.textContent = text === null || text === undefined ? "" : String(text);
  }

  function timelineRow(t) {
    const tr = el("tr", null, t.evidence ? "evidence" : "");
    tr.append(td(t.time, "time"), td(t.offset, "time"), td(t.action), td(t.outcome), td(t.resource),
      td(code(t.statement), "stmt"), td(t.actor, "actor"), td(t.source, "src"), td(t.evidence));
    return tr;
  }

  function alertArticle(a) {
    const art = el("article", null, "alert");
    art.dataset.alert = a.alert_id;
    const h = el("h3");
    h.append(sev(a.severity), " ", a.title); // append(string) inserts a text node
    const dl = el("dl", null, "meta");
    for (const [k, v] of [["Rule", a.rule_id], ["Time", a.time], ["ATT&CK", a.attack],
      ["Response", a.response], ["Decision", a.decision], ["Reason", a.reason]]) {
      dl.append(el("dt", k), el("dd", v));
    }
    const table = el("table", null, "grid");
    const head = el("tr");
    for (const c of ["Time", "Action", "Outcome", "Resource", "Statement (redacted)", "Source"]) {
      head.append(el("th", c));
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const e of a.evidence) {
      const tr = el("tr");
      tr.append(td(e.time, "time"), td(e.action), td(e.outcome), td(e.resource), td(code(e.statement), "stmt"),
        td(e.source, "src"));
      tbody.append(tr);
    }
    const cap = el("caption", "No evidence events.", "empty");
    cap.hidden = a.evidence.length > 0;
    table.append(thead, tbody, cap);
    art.append(h, dl, table);
    return art;
  }

  function responseRow(r) {
    const tr = el("tr");
    tr.append(td(r.responder), td(r.key, "src"), td(r.status, "status st-" + cssWord(r.status)),
      td(r.attempts), td(r.last_error), td(r.created, "time"), td(r.delivered, "time"));
    return tr;
  }

  async function refreshIncident() {
    const d = await getJSON(body.dataset.incidentApi);
    const i = d.incident;
    const sevEl = document.getElementById("f-severity");
    if (sevEl) sevEl.replaceWith(Object.assign(sev(i.severity), { id: "f-severity" }));
    setText("f-status", i.status);
    setText("f-revoked", i.revoked ? "yes" : "no");
    setText("f-identity", i.identity_id);
    setText("f-kind", i.kind);
    setText("f-confidence", i.confidence);
    setText("f-owner", i.owner);
    setText("f-rules", i.rules);
    setText("f-opened", i.opened);
    setText("f-updated", i.updated);
    setText("f-last_action", i.last_action);
    document.getElementById("attribution").replaceChildren(...i.attribution.map((r) => el("li", r)));
    document.getElementById("not-live").hidden = !d.not_live;
    for (const action of ["ack", "dismiss", "revoke"]) {
      const b = document.getElementById("btn-" + action);
      if (b) b.disabled = !d.actionable[action];
    }
    fill(document.getElementById("timeline"), d.timeline.map(timelineRow));
    document.getElementById("alerts").replaceChildren(...d.alerts.map(alertArticle));
    fill(document.getElementById("responses"), d.responses.map(responseRow));
  }

  function notice(text) {
    let n = document.getElementById("notice");
    if (!n) {
      n = el("p", null, "flash");
      n.id = "notice";
      n.setAttribute("role", "status");
      document.querySelector("main").prepend(n);
    }
    n.replaceChildren(el("span", text + " "));
    const a = el("a", "All incidents");
    a.href = base;
    n.append(a);
  }

  // -- live updates -------------------------------------------------------------------
  let pending = null;
  function later(fn) {
    // many alerts in a burst become one refetch
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      fn().catch((e) => console.warn("auditwatch: refresh failed", e));
    }, 150);
  }

  function connect() {
    const url = body.dataset.events;
    if (!url || !window.EventSource) return;
    const live = document.getElementById("live");
    const es = new EventSource(url);
    const state = (on, text) => {
      if (!live) return;
      live.textContent = text;
      live.className = "live " + (on ? "on" : "off");
    };
    es.addEventListener("open", () => state(true, "live"));
    es.addEventListener("error", () => state(false, "reconnecting…"));
    const onEvent = (ev) => {
      let data = {};
      try {
        data = JSON.parse(ev.data || "{}");
      } catch (e) {
        data = {};
      }
      if (page === "list") {
        later(refreshList);
      } else if (page === "incident") {
        if (ev.type === "resync" || data.incident_id === body.dataset.incident) {
          later(refreshIncident);
        } else if (ev.type === "alert" && data.identity_id) {
          notice("New alert for " + data.identity_id + ": " + (data.title || data.rule_id || "") + ".");
        }
      }
    };
    for (const t of ["alert", "incident", "resync"]) es.addEventListener(t, onEvent);
    es.addEventListener("hello", () => state(true, "live"));
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const f of document.querySelectorAll("form.act[data-action=revoke]")) {
      f.addEventListener("submit", (ev) => {
        if (!window.confirm("Revoke the credentials this incident's actions were done with?")) {
          ev.preventDefault();
        }
      });
    }
    if (page === "list" || page === "incident") connect();
    if (page === "incident") {
      // delivery outcomes (attempts, errors) change without an event: look again now and then
      setInterval(() => {
        if (!document.hidden) later(refreshIncident);
      }, 15000);
    }
  });
})();
