/* Submit buttons show that something is happening: once a form is sent, its submit button
   is disabled, marked busy and shows a spinner with the text of data-loading-label on <body>
   ("Working…", translated), so a slow answer is not clicked twice. The button comes back when
   the page is shown again from the back/forward cache, and after 15 s in case the answer was
   a download that leaves the page in place. Forms with data-no-loading are left alone. */
(function () {
  "use strict";
  var label = document.body.getAttribute("data-loading-label") || "…";
  function restore(button) {
    if (!button.hasAttribute("data-loading")) { return; }
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.removeAttribute("data-loading");
    button.innerHTML = button.getAttribute("data-original-html");
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.hasAttribute("data-no-loading") || form.method === "dialog") { return; }
    var button = event.submitter || form.querySelector("[type=submit]");
    if (!button || button.hasAttribute("data-loading")) { return; }
    setTimeout(function () {  // after the browser has taken the submitter's name and value
      button.setAttribute("data-original-html", button.innerHTML);
      button.setAttribute("data-loading", "");
      button.setAttribute("aria-busy", "true");
      button.disabled = true;
      var spinner = document.createElement("span");
      spinner.className = "spinner-border spinner-border-sm me-1";
      spinner.setAttribute("aria-hidden", "true");
      button.textContent = " " + label;
      button.insertBefore(spinner, button.firstChild);
      setTimeout(function () { restore(button); }, 15000);
    }, 0);
  });
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-loading]"), restore);
  });
})();
