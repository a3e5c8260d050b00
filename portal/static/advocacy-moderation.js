/* Moderation page: selecting words of the testimonial fills in the highlight offsets.
   Offsets count characters (code points), as the server does. Without JavaScript, staff type the
   offsets or paste the words. */
(function () {
  "use strict";
  var body = document.querySelector("[data-advocacy-body]");
  var form = document.querySelector("[data-advocacy-highlight-form]");
  if (!body || !form) { return; }
  var start = form.querySelector("input[name=start]");
  var end = form.querySelector("input[name=end]");
  var excerpt = form.querySelector("input[name=excerpt]");
  var preview = form.querySelector("[data-advocacy-excerpt-preview]");
  function length(text) { return Array.from(text).length; }
  document.addEventListener("selectionchange", function () {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) { return; }
    var range = selection.getRangeAt(0);
    if (!body.contains(range.startContainer) || !body.contains(range.endContainer)) { return; }
    var before = document.createRange();
    before.selectNodeContents(body);
    before.setEnd(range.startContainer, range.startOffset);
    var from = length(before.toString());
    var picked = range.toString();
    start.value = from;
    end.value = from + length(picked);
    if (excerpt) { excerpt.value = ""; }
    preview.textContent = "Selected: \u201c" + picked + "\u201d";
  });
})();
