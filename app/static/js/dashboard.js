// Keeps the dashboard live: every few seconds it fetches the fragment and puts it in place of the
// live part, keeping the scroll position. No dependencies; with JavaScript off the page is a
// plain page that shows fresh figures on reload.
(function () {
  "use strict";
  var live = document.getElementById("dashboard-live");
  if (!live || !window.fetch) { return; }
  var note = document.getElementById("dashboard-refresh-note");
  var seconds = Math.max(1, parseInt(live.dataset.refreshSeconds, 10) || 5);
  var url = live.dataset.fragmentUrl;
  var timer = null;
  var busy = false;
  // Counts the in-place refreshes of this page load (a full reload starts again from 0).
  window.dashboardRefreshes = 0;

  function say(text) { if (note) { note.textContent = text; } }

  // The window's and every scrolled box's position, to put back after the swap.
  function scrollState() {
    var boxes = [];
    Array.prototype.forEach.call(live.querySelectorAll("[id]"), function (el) {
      if (el.scrollTop || el.scrollLeft) { boxes.push([el.id, el.scrollTop, el.scrollLeft]); }
    });
    // The keyboard focus too: a swap would otherwise drop it to <body> every few seconds.
    var focused = Array.prototype.indexOf.call(focusables(), document.activeElement);
    return { x: window.scrollX, y: window.scrollY, boxes: boxes, focused: focused };
  }

  function focusables() {
    return live.querySelectorAll("a[href], button, input, select, textarea, [tabindex]");
  }

  function restore(state) {
    state.boxes.forEach(function (box) {
      var el = document.getElementById(box[0]);
      if (el) { el.scrollTop = box[1]; el.scrollLeft = box[2]; }
    });
    window.scrollTo(state.x, state.y);
    var again = state.focused >= 0 && focusables()[state.focused];
    if (again) { again.focus({ preventScroll: true }); }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, seconds * 1000);
  }

  function refresh() {
    if (busy) { return; }
    if (document.hidden) { schedule(); return; } // nobody is looking: ask again later
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok || response.headers.get("X-Dashboard-Fragment") !== "1") {
          throw new Error(response.ok ? "session" : String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        var state = scrollState();
        live.innerHTML = html;
        restore(state);
        window.dashboardRefreshes += 1;
        live.dispatchEvent(new CustomEvent("dashboard:refreshed", { bubbles: true }));
        say("Refreshes itself every " + seconds + " s.");
        schedule();
      })
      .catch(function (error) {
        if (error.message === "session" || error.message === "401" || error.message === "403") {
          say("Your session has ended: reload the page to log in again.");
          return; // stop: asking again would not help
        }
        say("Could not refresh (" + error.message + "); trying again.");
        schedule();
      })
      .then(function () { busy = false; });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); }
  });
  say("Refreshes itself every " + seconds + " s.");
  schedule();
}());
