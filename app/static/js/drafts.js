// Keeps the unsaved state of every entry form on the server: a few seconds after typing stops,
// whenever a field loses focus, and every few seconds while there are changes. No dependencies;
// the forms still work with JavaScript off.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  var SKIP = { csrf_token: true, version: true, form_token: true, confirm_warnings: true,
               draft_kept: true };

  function watch(form) {
    var status = form.querySelector(".draft-status") || document.getElementById("draft-status");
    var last = null;
    var timer = null;

    function values() {
      var data = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || SKIP[el.name] || el.readOnly || el.type === "submit") { return; }
        data[el.name] = el.type === "checkbox" ? (el.checked ? "y" : "") : el.value;
      });
      return JSON.stringify({ data: data });
    }

    function say(text) { if (status) { status.textContent = text; } }

    function save() {
      var body = values();
      if (body === last) { return; }
      // From now on a draft may be on the server: saving the form must delete it.
      if (form.elements.draft_kept) { form.elements.draft_kept.value = "1"; }
      fetch(form.dataset.draftUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.content : "" },
        body: body
      }).then(function (response) {
        if (response.ok) {
          last = body;
          say("Draft saved " + new Date().toLocaleTimeString());
        } else {
          say("Draft not saved (" + response.status + "); what you typed is still here.");
        }
      }).catch(function () { say("Offline: the draft will be saved when the connection is back."); });
    }

    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(save, 2000); });
    form.addEventListener("focusout", save);
    form.addEventListener("submit", function () { clearTimeout(timer); last = values(); });
    // Ctrl+Enter in a text area saves too (plain Enter there starts a new line).
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.ctrlKey && event.target.tagName === "TEXTAREA") {
        event.preventDefault();
        form.requestSubmit ? form.requestSubmit() : form.submit();
      }
    });
    setInterval(save, 5000);
    last = values();  // nothing to save until something changes
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-url]"), watch);
})();
