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

// A form with data-wait (the pairing Save, the restore) takes a few
// seconds on the appliance: while its post runs, the form shows the text
// and an indeterminate progress bar, and a second click sends nothing. The
// form still posts as usual, so the page works without script.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var wait = form.getAttribute("data-wait");
  if (!wait || ev.defaultPrevented || (ev.submitter && ev.submitter.hasAttribute("data-skip-confirm"))) {
    return;
  }
  if (form.getAttribute("aria-busy") === "true") {
    ev.preventDefault();
    return;
  }
  form.setAttribute("aria-busy", "true");
  var bar = form.querySelector("progress.wait");
  var text = form.querySelector("p.wait");
  if (bar) {
    bar.removeAttribute("value");
    bar.hidden = false;
  }
  if (text) {
    text.textContent = wait;
  }
});

// A page brought back from the history must not keep showing it.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[aria-busy]").forEach(function (form) {
    form.removeAttribute("aria-busy");
    form.querySelectorAll("progress.wait").forEach(function (bar) { bar.hidden = true; });
    form.querySelectorAll("p.wait").forEach(function (text) { text.textContent = ""; });
  });
});

function updateLive(root, data) {
  root.querySelectorAll("[data-peer][data-field]").forEach(function (el) {
    var p = data.peers[el.getAttribute("data-peer")];
    var field = el.getAttribute("data-field");
    var v = p ? p[field] : "not paired";
    if (v !== undefined && el.textContent !== v) {
      el.textContent = v;
    }
    if (el.classList.contains("badge")) {
      var tone = p && p.tones ? (p.tones[field] || "") : "down";
      ["up", "warn", "down"].forEach(function (t) { el.classList.toggle(t, t === tone); });
    }
  });
  var bar = document.getElementById("sync-progress");
  if (bar) {
    var sp = data.peers[bar.getAttribute("data-peer")];
    // A finished (or never started) sync shows a full bar.
    bar.value = sp && sp.progress >= 0 ? sp.progress : 100;
    bar.textContent = sp && sp.progress >= 0 ? sp.progress + " %" : "done";
  }
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

// A page whose figures stopped updating says so loudly: the appliance (or
// its hmd) may be down, and what is shown is only what was last known.
var staleAfter = 5000; // ms without an update: five missed polls
var lastUpdate = Date.now();
var lastUpdated = ""; // the appliance's own time of it, in the page's format

function watchStale(root) {
  var banner = document.getElementById("stale");
  if (!banner) {
    return;
  }
  setInterval(function () {
    var age = Date.now() - lastUpdate;
    if (age < staleAfter) {
      banner.hidden = true;
      root.classList.remove("stale");
      return;
    }
    banner.textContent = "No update from this appliance for " + Math.round(age / 1000) +
      " s: what this page shows was last known at " + (lastUpdated || "page load") +
      " and may no longer be true (the appliance or its health monitor may be down).";
    banner.hidden = false;
    root.classList.add("stale");
  }, 1000);
}

function poll(root) {
  var peer = root.getAttribute("data-peer") || "";
  var errEl = document.getElementById("live-error");
  // A powered-off appliance never answers: without a bound the poll would
  // wait for the browser's own timeout, minutes.
  var ctl = new AbortController();
  var timer = setTimeout(function () { ctl.abort(); }, 3000);
  fetch("/ui/live?peer=" + encodeURIComponent(peer), { credentials: "same-origin", cache: "no-store", signal: ctl.signal })
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
      lastUpdate = Date.now();
      lastUpdated = data.updated;
      if (errEl) { errEl.textContent = ""; }
    })
    .catch(function (e) {
      if (errEl) { errEl.textContent = e.message; }
    })
    .finally(function () {
      clearTimeout(timer);
      setTimeout(function () { poll(root); }, 1000);
    });
}

document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("live");
  if (root) {
    poll(root);
    watchStale(root);
  }
});

// The firmware upload: send the form with a progress bar for the upload,
// then for the appliance's verify and write (JSON lines, one per MiB),
// and show the result or the refusal.
function upgrade(form) {
  var bar = document.getElementById("upgrade-progress");
  var stage = document.getElementById("upgrade-stage");
  var button = document.getElementById("install");
  var show = function (what, done, total) {
    bar.hidden = false;
    if (total > 0) {
      bar.value = Math.floor(done * 100 / total);
      stage.textContent = what + ": " + bar.value + " %";
    } else {
      bar.removeAttribute("value");
      stage.textContent = what + "…";
    }
  };
  var xhr = new XMLHttpRequest();
  var seen = 0;
  var finished = false;
  var lines = function () {
    var text = xhr.responseText;
    var end;
    while ((end = text.indexOf("\n", seen)) >= 0) {
      var line = text.slice(seen, end);
      seen = end + 1;
      var p = JSON.parse(line);
      if (p.error) {
        finished = true;
        stage.textContent = "Update refused: " + p.error.error;
        stage.className = "flash error";
      } else if (p.result) {
        finished = true;
        show("installed", 1, 1);
        stage.textContent = p.result.message;
        stage.className = "flash ok";
      } else {
        show(p.stage === "verify" ? "verifying" : "writing the inactive slot", p.done, p.total);
      }
    }
  };
  xhr.upload.onprogress = function (ev) {
    show("sending", ev.loaded, ev.lengthComputable ? ev.total : 0);
  };
  xhr.onprogress = lines;
  xhr.onload = function () {
    button.disabled = false;
    if (xhr.status !== 200) {
      stage.textContent = "Update refused: " + xhr.responseText.trim();
      stage.className = "flash error";
      return;
    }
    lines();
    if (!finished) {
      stage.textContent = "The appliance ended the answer without a result; see the events log.";
      stage.className = "flash error";
    }
  };
  xhr.onerror = function () {
    button.disabled = false;
    stage.textContent = "The upload failed (connection lost).";
    stage.className = "flash error";
  };
  xhr.open("POST", form.action);
  xhr.setRequestHeader("Accept", "application/x-ndjson");
  button.disabled = true;
  stage.className = "";
  xhr.send(new FormData(form));
}

document.addEventListener("submit", function (ev) {
  if (ev.target.id === "upgrade-form" && !ev.defaultPrevented) {
    ev.preventDefault();
    upgrade(ev.target);
  }
});
