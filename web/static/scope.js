/* Questions restricted to chosen documents: while any "只在选中的文档中查找" box is checked, the question is sent by
 * the plain form POST (which carries the chosen documents) instead of the page's JSON path, so the answer
 * really comes only from them. Runs in the capture phase, before the chat script's submit handler. */
(function () {
  "use strict";
  window.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.id !== "ask" || form.hasAttribute("data-sends-scope")) { return; }
    if (form.querySelector('input[name="doc"]:checked')) {
      event.stopImmediatePropagation();  // the browser then submits the form itself
    }
  }, true);
  document.addEventListener("keydown", function (event) {
    // the chat script sends on Enter by itself (not through a submit event): send the form instead
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229 &&
        event.target && event.target.id === "question") {
      var form = document.getElementById("ask");
      if (form && form.querySelector('input[name="doc"]:checked') && !form.hasAttribute("data-sends-scope")) {
        event.stopImmediatePropagation();
        event.preventDefault();
        if (event.target.value.trim()) { form.submit(); }
      }
    }
  }, true);
})();
