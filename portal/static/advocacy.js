/* Advocacy Portal: progressive enhancement of the referral page. The page works without it. */
(function () {
  "use strict";
  function fallbackCopy(input) {
    input.focus();
    input.select();
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
  function announce(text) {
    var status = document.querySelector("[data-advocacy-copy-status]");
    if (status) { status.textContent = ""; window.setTimeout(function () { status.textContent = text; }, 50); }
  }
  document.querySelectorAll("[data-advocacy-copy]").forEach(function (button) {
    var input = document.querySelector(button.getAttribute("data-advocacy-copy"));
    if (!input) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { announce(button.getAttribute("data-advocacy-copied") || "Link copied to your clipboard."); };
      var failed = function () {
        if (fallbackCopy(input)) { done(); } else { announce("Copy failed: select the link and copy it yourself."); }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, failed);
      } else {
        failed();
      }
    });
  });
  document.querySelectorAll(".advocacy-input[readonly]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });
})();
