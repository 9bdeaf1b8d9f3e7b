/* The lead page's queue panel: keep the lease while the rep works, let go when they leave.
   The lease is renewed every few minutes, but only if the rep typed, clicked or scrolled since
   the last renewal: a tab left open over lunch does not hold a lead. Ctrl+Enter logs. */
(function () {
  "use strict";
  var panel = document.getElementById("log-panel");
  if (!panel) { return; }
  var held = panel.getAttribute("data-held") === "1";
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var status = panel.querySelector("[data-lease-status]");
  var form = document.getElementById("log-form");
  var active = false, submitting = false, timer = null;

  ["keydown", "pointerdown", "input", "scroll"].forEach(function (name) {
    document.addEventListener(name, function () { active = true; }, {passive: true});
  });
  document.addEventListener("submit", function () { submitting = true; });

  function lost(message) {
    held = false;
    if (timer) { clearInterval(timer); }
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
  if (held) { timer = setInterval(renew, 1000 * parseInt(panel.getAttribute("data-heartbeat"), 10)); }

  window.addEventListener("pagehide", function () {
    if (!held || submitting || !navigator.sendBeacon) { return; }
    var data = new FormData();
    data.append("csrf_token", token);
    navigator.sendBeacon(panel.getAttribute("data-release-url"), data);
  });

  if (form) {
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
    });
  }
})();
