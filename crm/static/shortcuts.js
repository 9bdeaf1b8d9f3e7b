/* Keyboard shortcuts. Any element with data-shortcut="<key>" is activated by that key:
   links and buttons are clicked, form fields focused. "?" lists the shortcuts on this page.
   Keys typed into a field are left alone (Escape leaves the field).
   Keys in use: "/" search, "c" new (lead, cadence), "t" new task on the lead page
   (templates/tasks/_lead_form.html focuses its title field). */
(function () {
  "use strict";
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function targets() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-shortcut]"), function (el) {
      return !el.disabled && el.offsetParent !== null;
    });
  }
  function activate(el) {
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) { el.focus(); if (el.select) { el.select(); } }
    else { el.focus(); el.click(); }
  }
  function showHelp() {
    var dialog = document.getElementById("shortcut-help");
    if (!dialog) { return; }
    var list = dialog.querySelector("[data-shortcut-list]");
    list.innerHTML = "";
    targets().forEach(function (el) {
      var row = document.createElement("li");
      var key = document.createElement("kbd");
      key.textContent = el.getAttribute("data-shortcut").toUpperCase();
      row.appendChild(key);
      row.appendChild(document.createTextNode(" " + (el.getAttribute("data-shortcut-label") || el.getAttribute("aria-label") || el.textContent.trim())));
      list.appendChild(row);
    });
    if (!list.children.length) { list.innerHTML = "<li>" + list.getAttribute("data-empty") + "</li>"; }
    dialog.showModal();
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(document.activeElement)) { document.activeElement.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (event.key === "?") { event.preventDefault(); showHelp(); return; }
    var key = event.key.toLowerCase();
    var match = targets().filter(function (el) { return el.getAttribute("data-shortcut") === key; })[0];
    if (match) { event.preventDefault(); activate(match); }
  });
})();
