// The reviewer's keys on a document's review page, never taken while typing in a field:
// N / P open the next / previous document to review; ] / [ move the focus to the next /
// previous flagged or queried value (Enter on it opens a query there).
(function () {
  "use strict";
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function marked() {
    return Array.prototype.slice.call(document.querySelectorAll("td[data-marked] a.cell-value"));
  }
  function step(direction) {
    var cells = marked();
    if (!cells.length) return;
    var at = cells.indexOf(document.activeElement);
    var next = at < 0 ? (direction > 0 ? 0 : cells.length - 1)
                      : (at + direction + cells.length) % cells.length;
    cells[next].focus();
    cells[next].scrollIntoView({block: "nearest"});
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key;
    if (key === "]" || key === "[") {
      event.preventDefault();
      step(key === "]" ? 1 : -1);
    } else if (key === "n" || key === "N" || key === "p" || key === "P") {
      var link = document.querySelector(key.toLowerCase() === "n" ? "a[rel=next]" : "a[rel=prev]");
      if (link) {
        event.preventDefault();
        window.location.assign(link.href);
      }
    }
  });
  var confirm = document.getElementById("confirm-flags");
  if (confirm) confirm.scrollIntoView({block: "center"});
})();
