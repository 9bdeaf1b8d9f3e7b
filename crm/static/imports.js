/* Drives an import: asks the server for the next chunk until it is done, showing the counts. */
(function () {
  "use strict";
  var box = document.querySelector("[data-import-step]");
  if (!box || box.getAttribute("data-status") !== "running") { return; }
  var token = document.querySelector("meta[name=csrf-token]");
  function show(data) {
    Object.keys(data).forEach(function (key) {
      var el = box.querySelector('[data-field="' + key + '"]');
      if (el) { el.textContent = data[key]; }
    });
  }
  function next() {
    fetch(box.getAttribute("data-import-step"), {
      method: "POST", credentials: "same-origin",
      headers: {"X-CSRFToken": token ? token.content : ""}
    }).then(function (r) { return r.json(); }).then(function (data) {
      show(data);
      if (data.status === "running") { next(); }
      else { box.querySelector(".progress-bar").classList.remove("progress-bar-animated"); }
    }).catch(function () { setTimeout(next, 2000); });
  }
  next();
})();
