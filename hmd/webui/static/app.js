// hafw console: confirmation dialogs for the seed's questions, and live
// status without reloading the page (polls /ui/live once a second).
"use strict";

document.addEventListener("submit", function (ev) {
  var q = ev.target.getAttribute("data-confirm");
  // "Check secondary" and the license upload post the pairing form
  // without pairing: no question for them.
  if (ev.submitter && ev.submitter.hasAttribute("data-skip-confirm")) {
    q = null;
  }
  if (q && !window.confirm(q)) {
    ev.preventDefault();
  }
});

function updateLive(root, data) {
  root.querySelectorAll("[data-peer][data-field]").forEach(function (el) {
    var p = data.peers[el.getAttribute("data-peer")];
    var v = p ? p[el.getAttribute("data-field")] : "not paired";
    if (v !== undefined && el.textContent !== v) {
      el.textContent = v;
    }
  });
  var tbody = document.getElementById("events");
  if (tbody && data.events) {
    var rows = document.createDocumentFragment();
    data.events.forEach(function (e) {
      var tr = document.createElement("tr");
      [e.description, e.generated_by, e.time, e.remarks].forEach(function (text) {
        var td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    });
    tbody.replaceChildren(rows);
  }
  var self = document.getElementById("self-state");
  if (self && data.state && self.textContent !== data.state) {
    self.textContent = data.state;
  }
  var up = document.getElementById("updated");
  if (up) {
    up.textContent = data.updated;
  }
}

function poll(root) {
  var peer = root.getAttribute("data-peer") || "";
  var errEl = document.getElementById("live-error");
  fetch("/ui/live?peer=" + encodeURIComponent(peer), { credentials: "same-origin", cache: "no-store" })
    .then(function (r) {
      if (r.status === 401) {
        throw new Error("Your session has ended: reload the page to log in again.");
      }
      if (!r.ok) {
        throw new Error("Live update failed: HTTP " + r.status);
      }
      return r.json();
    })
    .then(function (data) {
      updateLive(root, data);
      if (errEl) { errEl.textContent = ""; }
    })
    .catch(function (e) {
      if (errEl) { errEl.textContent = e.message; }
    })
    .finally(function () {
      setTimeout(function () { poll(root); }, 1000);
    });
}

document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("live");
  if (root) {
    poll(root);
  }
});
