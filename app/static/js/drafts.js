// Keeps the unsaved state of an entry form on the server: every few seconds while typing and
// whenever a field loses focus. No dependencies; the form still works with JavaScript off.
(function () {
  "use strict";
  var form = document.getElementById("entry-form");
  if (!form || !form.dataset.draftUrl) { return; }
  var status = document.getElementById("draft-status");
  var token = document.querySelector('meta[name="csrf-token"]');
  var SKIP = { csrf_token: true, version: true, form_token: true };
  var last = null;
  var timer = null;

  function values() {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIP[el.name] || el.readOnly || el.type === "submit") { return; }
      data[el.name] = el.type === "checkbox" ? (el.checked ? "y" : "") : el.value;
    });
    return data;
  }

  function save() {
    var data = values();
    var body = JSON.stringify({ data: data });
    if (body === last) { return; }
    fetch(form.dataset.draftUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.content : "" },
      body: body
    }).then(function (response) {
      if (response.ok) {
        last = body;
        if (status) { status.textContent = "Draft saved " + new Date().toLocaleTimeString(); }
      } else if (status) {
        status.textContent = "Draft not saved (" + response.status + "); your typing is still here.";
      }
    }).catch(function () {
      if (status) { status.textContent = "Offline: draft not saved yet, retrying."; }
    });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(save, 2000);
  });
  form.addEventListener("focusout", save);
  form.addEventListener("submit", function () { clearTimeout(timer); last = JSON.stringify({ data: values() }); });
  setInterval(save, 5000);
  last = JSON.stringify({ data: values() });  // nothing to save until something changes
})();
