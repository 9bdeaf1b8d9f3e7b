/* The lead page's queue panel: keep the lease while the rep works, let go when they leave.
   The lease is renewed every few minutes, but only if the rep typed, clicked or scrolled since
   the last renewal: a tab left open over lunch does not hold a lead. Ctrl+Enter logs.
   Logging without "Then the next lead" stays on the page: the form is posted in the background
   and the panel, the history and the messages are taken from the answer, focus back on Outcome.
   Handlers sit on the document, so they keep working after the panel is replaced. */
(function () {
  "use strict";
  var panel = document.getElementById("log-panel");
  if (!panel) { return; }
  var held = panel.getAttribute("data-held") === "1";
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var active = false, submitting = false, timer = null;

  ["keydown", "pointerdown", "input", "scroll"].forEach(function (name) {
    document.addEventListener(name, function () { active = true; }, {passive: true});
  });

  function lost(message) {
    held = false;
    if (timer) { clearInterval(timer); timer = null; }
    var status = panel.querySelector("[data-lease-status]");
    status.textContent = message;
    status.classList.add("text-danger");
  }
  function renew() {
    if (!held || !active) { return; }
    active = false;
    fetch(panel.getAttribute("data-lease-url"), {
      method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": token, "Accept": "application/json"}
    }).then(function (resp) {
      return resp.json().then(function (body) {
        if (!resp.ok) { lost(body.error.message); }
      });
    }).catch(function () { /* offline for a moment: the next beat tries again */ });
  }
  function beat() {
    if (timer) { clearInterval(timer); timer = null; }
    if (held) { timer = setInterval(renew, 1000 * parseInt(panel.getAttribute("data-heartbeat"), 10)); }
  }
  beat();

  window.addEventListener("pagehide", function () {
    if (!held || submitting || !navigator.sendBeacon) { return; }
    var data = new FormData();
    data.append("csrf_token", token);
    navigator.sendBeacon(panel.getAttribute("data-release-url"), data);
  });

  document.addEventListener("keydown", function (event) {
    var form = event.target.closest && event.target.closest("#log-form");
    if (form && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    }
  });

  function replace(doc, selector) {
    var mine = document.querySelector(selector), theirs = doc.querySelector(selector);
    if (mine && theirs) { mine.replaceWith(document.importNode(theirs, true)); }
  }
  function stayAndLog(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) { data.append(submitter.name, submitter.value); }
    var button = form.querySelector('button[type="submit"]');
    if (button) { button.disabled = true; }
    fetch(form.action, {method: "POST", body: data, credentials: "same-origin"}).then(function (resp) {
      return resp.text().then(function (html) {
        // Sent somewhere else (signed out, say): go there. A 409/422 answer is this page with its errors.
        if (resp.redirected && new URL(resp.url).pathname !== window.location.pathname) { window.location.assign(resp.url); return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("log-panel");
        if (!fresh) { window.location.assign(resp.url); return; }
        panel.innerHTML = fresh.innerHTML;
        panel.setAttribute("data-held", fresh.getAttribute("data-held"));
        held = fresh.getAttribute("data-held") === "1";
        beat();
        replace(doc, '[data-testid="flashes"]');
        replace(doc, '[data-testid="timeline"]');
        var outcome = panel.querySelector('#log-form [name="outcome"]');
        if (outcome) { outcome.focus(); }
      });
    }).catch(function () {
      if (button) { button.disabled = false; }
      form.submit();  // the background post failed: fall back to an ordinary one, nothing typed is lost
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id === "log-form" && window.fetch && window.DOMParser) {
      var next = form.querySelector('[name="then_next"]');
      if (!next || !next.checked) {
        event.preventDefault();
        stayAndLog(form, event.submitter);
        return;
      }
    }
    submitting = true;  // leaving the page through a form: the server settles the lease
  });
})();
