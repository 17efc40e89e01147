// Keeps the unsaved state of every entry form on the server: a few seconds after typing stops,
// whenever a field loses focus, every few seconds while there are changes, and (with
// navigator.sendBeacon) in the last moment before the tab closes. No dependencies; the forms
// still work with JavaScript off. window.portalDrafts lets workspace.js watch forms that htmx
// swaps in and send every unsaved form before "Submit document".
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  var SKIP = { csrf_token: true, version: true, form_token: true, confirm_warnings: true,
               draft_kept: true };
  var watched = [];

  function caretToEnd(el) {
    if (!el || typeof el.value !== "string") { return; }
    try { el.setSelectionRange(el.value.length, el.value.length); } catch (e) { /* no caret */ }
  }

  function watch(form) {
    if (form.dataset.draftWatched) { return; }
    form.dataset.draftWatched = "1";
    var status = form.querySelector(".draft-status") || document.getElementById("draft-status");
    var last = null;
    var timer = null;
    var inflight = null;  // the draft request on its way, if any
    var closed = false;  // saved or discarded in place: this form sends nothing more

    function values() {
      var data = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || SKIP[el.name] || el.readOnly || el.type === "submit" || !el.form ||
            el.form !== form) { return; }
        data[el.name] = el.type === "checkbox" ? (el.checked ? "y" : "") : el.value;
      });
      // The one-time token lets the server drop a draft that crossed its form's save.
      var formToken = form.elements.form_token ? form.elements.form_token.value : "";
      return JSON.stringify({ data: data, form_token: formToken });
    }

    function say(text) { if (status) { status.textContent = text; } }

    function markKept() {
      // From now on a draft may be on the server: saving the form must delete it.
      if (form.elements.draft_kept) { form.elements.draft_kept.value = "1"; }
    }

    // Resolves true when the server holds what is in the form now.
    function save() {
      if (closed || !form.isConnected) { return inflight || Promise.resolve(true); }
      var body = values();
      if (body === last) { return inflight || Promise.resolve(true); }
      markKept();
      var request = fetch(form.dataset.draftUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.content : "" },
        body: body
      }).then(function (response) {
        if (response.ok) {
          if (!closed) { last = body; }
          say("Draft saved " + new Date().toLocaleTimeString());
          return true;
        }
        if (response.status === 401) {
          // The session ended: the server kept the values for after the next login; say so.
          return response.json().then(function (answer) {
            say(answer.message || "Your session ended: log in again. What you typed is kept.");
            return false;
          }, function () {
            say("Your session ended: log in again. What you typed is still here.");
            return false;
          });
        }
        say("Draft not saved (" + response.status + "); what you typed is still here.");
        return false;
      }).catch(function () {
        say("Offline: the draft will be saved when the connection is back.");
        return false;
      });
      inflight = request;
      request.then(function () { if (inflight === request) { inflight = null; } });
      return request;
    }

    // sendBeacon cannot set headers: the CSRF token and the JSON travel as form fields.
    function beacon() {
      if (closed || !form.isConnected || !navigator.sendBeacon) { return; }
      var body = values();
      if (body === last) { return; }
      markKept();
      var data = new FormData();
      data.append("csrf_token", token ? token.content : "");
      data.append("draft", body);
      if (navigator.sendBeacon(form.dataset.draftUrl, data)) { last = body; }
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
    var interval = setInterval(function () {
      if (!form.isConnected) { clearInterval(interval); return; }
      save();
    }, 5000);
    last = values();  // nothing to save until something changes
    watched.push({ form: form, save: save, beacon: beacon,
                   dirty: function () { return !closed && form.isConnected && values() !== last; },
                   pending: function () { return inflight; },
                   // The form is being saved or discarded: nothing more to send for it.
                   quiet: function () { clearTimeout(timer); last = values(); closed = true; },
                   // The request failed and the form is still here: keep its drafts going
                   // (after a failed save, what it sent is a draft again).
                   reopen: function (failed) { closed = false; if (failed) { last = null; } } });
    // A restored draft: the caret goes to the end of the focused field, ready to go on typing.
    if (form.elements.draft_kept && form.elements.draft_kept.value === "1" &&
        form.contains(document.activeElement)) {
      caretToEnd(document.activeElement);
    }
  }

  function live() {
    watched = watched.filter(function (w) { return w.form.isConnected; });
    return watched;
  }

  // Send every form's unsaved input; resolves with the forms whose draft did not reach the server.
  function flushAll() {
    var pending = live().map(function (w) {
      return w.save().then(function (ok) { return ok ? null : w.form; });
    });
    return Promise.all(pending).then(function (results) {
      return results.filter(function (f) { return f; });
    });
  }

  // An in-place save or discard waits for a draft still on its way, or that draft would
  // arrive after the save deleted it and come back as "unsaved input".
  document.addEventListener("htmx:confirm", function (event) {
    var source = event.target.closest ? event.target.closest("form") : null;
    if (!source || !source.dataset.panel) { return; }
    var pending = [];
    live().forEach(function (w) {
      if (w.form.dataset.panel !== source.dataset.panel) { return; }
      w.quiet();
      if (w.pending()) { pending.push(w.pending()); }
    });
    if (!pending.length) { return; }
    event.preventDefault();
    Promise.all(pending).then(function () { event.detail.issueRequest(true); });
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    var sent = !event.detail.successful && elt && elt.closest ? elt.closest("form") : null;
    setTimeout(function () {
      live().forEach(function (w) { w.reopen(w.form === sent); });
    }, 0);
  });

  window.addEventListener("pagehide", function () {
    live().forEach(function (w) { w.beacon(); });
  });

  window.portalDrafts = {
    watch: watch,
    flushAll: flushAll,
    caretToEnd: caretToEnd,
    dirty: function () { return live().filter(function (w) { return w.dirty(); }).map(function (w) { return w.form; }); }
  };
  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-url]"), watch);
})();
