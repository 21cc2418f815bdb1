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
})();
