// Field helpers for every entry form: a live character counter for inputs with
// data-maxchars (no maxlength: the browser would silently cut a pasted value; the
// server refuses what is longer, and the counter says so before saving).
// Event delegation, so forms swapped into the page later (htmx) are counted too.
(function () {
  "use strict";

  // Counted as the server counts: code points; an input's outer spaces are dropped on
  // save; a textarea's line breaks are sent as CR LF (two characters).
  function length(field) {
    var text = field.value;
    if (field.tagName === "TEXTAREA") {
      text = text.replace(/\r?\n/g, "\r\n");
    } else {
      text = text.trim();
    }
    return Array.from(text).length;
  }

  function update(field) {
    var counter = document.getElementById(field.id + "-counter");
    var limit = parseInt(field.getAttribute("data-maxchars"), 10);
    if (!counter || !limit) {
      return;
    }
    var n = length(field);
    var over = n - limit;
    // Always shown: the clerk sees the limit before typing past it.
    counter.textContent = n.toLocaleString("en") + " / " +
      limit.toLocaleString("en") + " characters" +
      (over > 0 ? " \u2014 " + over.toLocaleString("en") + " too many" : "");
    counter.classList.toggle("text-danger", over > 0);
    counter.classList.toggle("fw-semibold", over > 0);
  }

  function updateAll(root) {
    (root || document).querySelectorAll("[data-maxchars]").forEach(update);
  }

  // After a refused save the server marks the first refused field autofocus; left to the
  // browser, it is scrolled just into view and its message may stay under the bottom edge.
  // Focusing it here first (centred) also stops the browser's own later autofocus.
  function centreRefusedField() {
    var field = document.querySelector('[autofocus][aria-invalid="true"]');
    if (field && (document.activeElement === document.body || !document.activeElement)) {
      field.scrollIntoView({block: "center"});
      field.focus({preventScroll: true});
    }
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-maxchars]")) {
      update(event.target);
    }
  });
  document.addEventListener("htmx:load", function (event) { updateAll(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      updateAll();
      centreRefusedField();
    });
  } else {
    updateAll();
    centreRefusedField();
  }
})();
