// dialogpay portal: the few behaviours htmx does not give. Loaded with `defer` (the CSP
// forbids inline scripts); every page works without it.
(function () {
  "use strict";

  // "Add Vipps link": a button with data-insert (the text) and data-target (a textarea's id)
  // inserts the text at the cursor, or replaces the selection, then tells htmx the text changed
  // (an `input` event, which the live counter listens to).
  function insertAtCursor(button) {
    var field = document.getElementById(button.dataset.target);
    if (!field) {
      return;
    }
    var text = button.dataset.insert || "";
    var start = typeof field.selectionStart === "number" ? field.selectionStart : field.value.length;
    var end = typeof field.selectionEnd === "number" ? field.selectionEnd : start;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    var caret = start + text.length;
    field.setSelectionRange(caret, caret);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-insert]");
    if (button) {
      event.preventDefault();
      insertAtCursor(button);
    }
  });

  // Auto-refresh (the console's overview): the element with data-refresh-seconds (0: off) is
  // fetched again from its data-refresh-url by htmx, only while the tab is visible; a hidden
  // tab catches up as soon as it is shown again.
  function refreshNow() {
    var current = document.querySelector("[data-refresh-seconds]");
    if (current && window.htmx) {
      window.htmx.ajax("GET", current.dataset.refreshUrl, { target: current, swap: "outerHTML" });
    }
  }

  function startRefresh() {
    var first = document.querySelector("[data-refresh-seconds]");
    var seconds = first ? parseInt(first.dataset.refreshSeconds, 10) : 0;
    if (!(seconds > 0)) {
      return;
    }
    var missed = false;
    window.setInterval(function () {
      if (document.hidden) {
        missed = true;
        return;
      }
      refreshNow();
    }, seconds * 1000);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && missed) {
        missed = false;
        refreshNow();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", startRefresh);

  // A select with data-autosubmit sends its form when changed (the refresh menu).
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) {
      select.form.submit();
    }
  });
})();
