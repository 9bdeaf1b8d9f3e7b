// Screen pop: an EventSource on /events/stream shows the caller's card when this user answers a call.
// The server answers briefly and the browser reconnects (see crm/integrations/screenpop.py).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.EventSource) { return; }
  var url = script.dataset.streamUrl;
  var labels = JSON.parse(script.dataset.labels || "{}");
  var key = "touchline.screenpop.after";
  var after = sessionStorage.getItem(key);
  var source = new EventSource(url + (after ? "?after=" + encodeURIComponent(after) : ""));

  function region() {
    var box = document.getElementById("screen-pops");
    if (!box) {
      box = document.createElement("div");
      box.id = "screen-pops";
      box.className = "position-fixed bottom-0 end-0 p-3";
      box.style.zIndex = "1080";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "assertive");
      document.body.appendChild(box);
    }
    return box;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  function show(data) {
    var card = el("section", "card shadow mb-2");
    card.style.width = "22rem";
    card.dataset.testid = "screen-pop";
    card.setAttribute("aria-label", labels.title || "Call answered");
    var body = el("div", "card-body");
    var head = el("div", "d-flex align-items-start");
    head.appendChild(el("h2", "h6 card-title me-auto mb-1", (labels.title || "Call answered") + ": " + data.contact.name));
    var close = el("button", "btn-close");
    close.type = "button";
    close.setAttribute("aria-label", labels.close || "Close");
    close.addEventListener("click", function () { card.remove(); });
    head.appendChild(close);
    body.appendChild(head);
    if (data.number) { body.appendChild(el("div", "small text-muted", data.number)); }
    if (data.contact.account) { body.appendChild(el("div", "small", data.contact.account)); }
    if (data.contact.email) { body.appendChild(el("div", "small", data.contact.email)); }
    var links = el("div", "mt-2 d-flex gap-2");
    if (data.lead) {
      var lead = el("a", "btn btn-primary btn-sm", (labels.lead || "Open lead") + ": " + data.lead.title);
      lead.href = data.lead.url;
      links.appendChild(lead);
    }
    var contact = el("a", "btn btn-outline-secondary btn-sm", labels.contact || "Contact");
    contact.href = data.contact.url;
    links.appendChild(contact);
    body.appendChild(links);
    card.appendChild(body);
    region().appendChild(card);
    (data.lead ? card.querySelector("a") : close).focus({preventScroll: true});
  }

  source.addEventListener("screenpop", function (event) {
    sessionStorage.setItem(key, event.lastEventId);
    show(JSON.parse(event.data));
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
