// The workspace beside the document: the entry table tab remembered per document, the focus
// and the messages after every in-place save (htmx swaps one panel, never the viewer), and
// "Submit document" that first sends every form's unsaved input to the server.
(function () {
  "use strict";
  var column = document.getElementById("workspace-forms");
  var drafts = window.portalDrafts || { watch: function () {}, caretToEnd: function () {},
                                        flushAll: function () { return Promise.resolve([]); } };

  // --- where the focus goes after a save, a refusal or a restored draft
  function fields(body) {
    return body.querySelectorAll("form.entry-form input:not([type=hidden]):not([readonly]), " +
                                 "form.entry-form select, form.entry-form textarea, " +
                                 "form.delete-form textarea");
  }

  function settle(body) {
    if (!body) { return; }
    var summary = body.querySelector(".error-summary");
    var invalid = body.querySelector("form .is-invalid");
    var confirm = body.querySelector("[name=confirm_warnings]");
    if (summary) { summary.scrollIntoView({ block: "nearest", behavior: "instant" }); }
    var target = invalid || confirm || body.querySelector("form [autofocus]") || fields(body)[0];
    if (!target) { return; }
    if (confirm && target === confirm) {
      // The box is the next thing to answer: in view and focused, so Enter confirms.
      confirm.scrollIntoView({ block: "center", behavior: "instant" });
      confirm.focus({ preventScroll: true });
      return;
    }
    // The summary first, then the field and the message beside it (scrolled to if further down).
    target.focus({ preventScroll: true });
    var message = document.getElementById(target.id + "-error");
    target.scrollIntoView({ block: summary ? "center" : "nearest", behavior: "instant" });
    if (message) { message.scrollIntoView({ block: "nearest", behavior: "instant" }); }
    drafts.caretToEnd(target);
  }

  // Enter on "I checked these values" ticks it and saves (a checkbox ignores Enter by itself).
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key !== "Enter" || el.name !== "confirm_warnings" || !el.form) { return; }
    event.preventDefault();
    el.checked = true;
    el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
  });

  // A link in the error summary focuses its field in the same panel (ids may repeat across panels).
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".error-summary a[data-focus]") : null;
    if (!link) { return; }
    var body = link.closest(".panel-body") || link.closest("main");
    var field = body && body.querySelector('form [id="' + link.dataset.focus + '"]');
    if (field) { event.preventDefault(); field.focus(); }
  });

  // The standalone entry form (no workspace around it): the same focus rules.
  if (!column) {
    settle(document.querySelector("main"));
    return;
  }
  var focusWhenLoaded = null;
  var storeKey = "portal-panel:" + column.dataset.user + ":" + column.dataset.document;

  // --- tabs: the server's choice (?panel=, a refused save) wins, else this clerk's last one
  // Kept in this browser twice: in localStorage, and in a cookie scoped to this document's
  // path, so that the server opens the page on that table (no second request for it).
  function remember(name) {
    try { localStorage.setItem(storeKey, name); } catch (e) { /* private mode */ }
    document.cookie = "portal_panel=" + encodeURIComponent(name) + "; path=" +
      location.pathname + "; max-age=7776000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function recalled() { try { return localStorage.getItem(storeKey); } catch (e) { return null; } }

  function showTab(name) {
    var tab = document.getElementById("tab-" + name);
    if (tab && window.bootstrap) { window.bootstrap.Tab.getOrCreateInstance(tab).show(); }
    return !!tab;
  }

  Array.prototype.forEach.call(column.querySelectorAll('[role="tab"]'), function (tab) {
    tab.addEventListener("shown.bs.tab", function () { remember(tab.dataset.panel); });
  });

  function activeBody() {
    var pane = column.querySelector(".tab-pane.active") || column.querySelector(".workspace-panel");
    return pane ? pane.querySelector(".panel-body") : null;
  }

  // --- htmx: new panel content (a whole panel, or after a save only its form box) is watched
  // for drafts and takes the focus
  document.addEventListener("htmx:load", function (event) {
    var body = event.target;
    if (!body.classList || !(body.classList.contains("panel-body") ||
                             body.classList.contains("panel-form"))) { return; }
    Array.prototype.forEach.call(body.querySelectorAll("form[data-draft-url]"), drafts.watch);
    // A panel fetched when its tab was first shown leaves the focus on the tab, unless it is
    // the table this clerk was last working in (shown by itself when the page opened).
    if (body.dataset.focus !== "0" || body.dataset.panel === focusWhenLoaded) {
      focusWhenLoaded = null;
      settle(body);
    }
  });

  // A save from a panel in create mode that lists the latest rows asks for the short answer:
  // a fresh form plus the new row, which goes on top of the list here (the rows already shown
  // are not sent again).
  function showsLatestRows(form) {
    var body = form.closest ? form.closest(".panel-body") : null;
    var rows = body ? body.querySelector("tbody[data-page]") : null;
    return !!(body && rows && body.dataset.mode === "create" && rows.dataset.page === "1" &&
              form.classList.contains("entry-form"));
  }
  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.tagName === "FORM" && showsLatestRows(form)) {
      event.detail.headers["X-Panel-Rows"] = "latest";
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    Array.prototype.forEach.call(column.querySelectorAll("tbody[data-page]"), function (rows) {
      var latest = parseInt(rows.dataset.latest, 10) || 10;
      while (rows.rows.length > latest && rows.dataset.page === "1") {
        rows.deleteRow(rows.rows.length - 1);
      }
      var table = rows.closest("table");
      if (table && rows.rows.length) { table.hidden = false; }
    });
  });

  // A refusal the server did not render as a panel (403, 404, 500, offline) is said in the panel.
  function sayInPanel(elt, text) {
    var section = elt && elt.closest ? elt.closest(".workspace-panel") : null;
    var status = section ? section.querySelector(".panel-status") : null;
    if (!status) { return; }
    status.innerHTML = "";
    var box = document.createElement("div");
    box.className = "alert alert-danger py-1 px-2 mb-2 small";
    box.textContent = text;
    status.appendChild(box);
  }
  // Anything but a panel (the login page after the session ended, say) is not swapped in.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var text = event.detail.serverResponse || "";
    if (!event.detail.shouldSwap || text.indexOf('class="panel-body"') !== -1 ||
        text.indexOf('class="panel-form"') !== -1) { return; }
    event.detail.shouldSwap = false;
    sayInPanel(event.detail.elt, "Not saved: the page has to be loaded again (has your session " +
               "ended?). What you typed is still in the form.");
  });
  // The database's 503 page says what happened to the save and names the request id.
  function outageText(html) {
    try {
      var page = new DOMParser().parseFromString(html || "", "text/html");
      var message = page.querySelector("[data-outage-message]");
      var rid = page.querySelector("[data-request-id]");
      if (!message) { return null; }
      return message.textContent.trim() + " What you typed is still in the form." +
        (rid ? " (Request id " + rid.textContent.trim() + ")" : "");
    } catch (e) { return null; }
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var outage = xhr.status === 503 ? outageText(xhr.responseText) : null;
    sayInPanel(event.detail.elt, outage || ("Not saved: the server answered " + xhr.status +
               " " + (xhr.statusText || "") + ". What you typed is still in the form."));
  });
  document.addEventListener("htmx:sendError", function (event) {
    sayInPanel(event.detail.elt, "Not saved: the server could not be reached. What you typed " +
               "is still in the form; try again.");
  });

  // --- "Submit document": every form's unsaved input goes to the server first, so the server
  // can refuse to submit (and the clerk loses nothing).
  var submitForm = document.getElementById("submit-document-form");
  if (submitForm) {
    submitForm.addEventListener("submit", function (event) {
      if (submitForm.dataset.flushed) { return; }
      event.preventDefault();
      drafts.flushAll().then(function (failed) {
        if (failed.length) {
          sayInPanel(failed[0], "Your unsaved input could not be kept on the server: save or " +
                     "discard it before submitting. The document was not submitted.");
          return;
        }
        submitForm.dataset.flushed = "1";
        submitForm.submit();
      });
    });
  }

  // "Save" beside a refused submit: show that table's form and save it.
  Array.prototype.forEach.call(document.querySelectorAll("[data-save-panel]"), function (link) {
    link.addEventListener("click", function (event) {
      var name = link.dataset.savePanel;
      var form = document.querySelector('#panel-' + name + ' form.entry-form');
      if (!form) { return; }
      event.preventDefault();
      showTab(name);
      form.requestSubmit ? form.requestSubmit() : form.submit();
    });
  });

  // --- on load
  var chosen = column.dataset.serverPanel;
  if (chosen) { remember(chosen); } else if (recalled()) { showTab(recalled()); remember(recalled()); }
  var opened = activeBody();
  if (opened && opened.dataset.mode === "lazy") {
    focusWhenLoaded = opened.dataset.panel;  // it is on its way (htmx, when it came into view)
  } else {
    settle(opened);
  }
})();
