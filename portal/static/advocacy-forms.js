/* Advocacy Portal: testimonial and review forms, progressive enhancement. The forms work without it.
   - a live character counter under each textarea with data-advocacy-counter;
   - the chosen star rating in words under the star picker;
   - a preview of the published card (text only: everything goes through textContent);
   - a field's error from the server goes once the field is corrected. */
(function () {
  "use strict";
  var number = function (n) { try { return n.toLocaleString(document.documentElement.lang || undefined); } catch (e) { return String(n); } };

  document.querySelectorAll("[data-advocacy-counter]").forEach(function (area) {
    var counter = document.getElementById(area.getAttribute("data-advocacy-counter"));
    if (!counter) { return; }
    var max = parseInt(area.getAttribute("maxlength"), 10) || 0, min = parseInt(area.getAttribute("minlength"), 10) || 0;
    var timer = null;
    counter.setAttribute("aria-live", "off");
    var update = function (announce) {
      var length = area.value.length, text;
      if (length < min) { text = number(length) + " of " + number(max) + " characters: write at least " + number(min - length) + " more."; }
      else { text = number(length) + " of " + number(max) + " characters (" + number(Math.max(0, max - length)) + " left)."; }
      counter.textContent = text;
      counter.classList.toggle("advocacy-counter--over", length < min || (max && length >= max));
      if (announce) {
        // Screen readers hear the count once typing pauses, not at every keystroke.
        window.clearTimeout(timer);
        counter.setAttribute("aria-live", "off");
        timer = window.setTimeout(function () { counter.setAttribute("aria-live", "polite"); counter.textContent = text + " "; }, 1200);
      }
    };
    counter.hidden = false;
    area.addEventListener("input", function () { update(true); });
    update(false);
  });

  document.querySelectorAll("[data-advocacy-stars]").forEach(function (picker) {
    var value = picker.querySelector("[data-advocacy-stars-value]");
    picker.addEventListener("change", function (event) {
      var label = picker.querySelector('label[for="' + event.target.id + '"] .advocacy-visually-hidden');
      if (value && label) { value.textContent = label.textContent; }
    });
  });

  // A server-side error stays only while it is true: once the browser's own constraint validation
  // (required, minlength, maxlength: the server's rules, rendered by WTForms) finds the field valid,
  // its message, its line in the error summary and aria-invalid go. The server checks again on send.
  document.querySelectorAll("form.advocacy-form").forEach(function (form) {
    var summary = document.querySelector(".advocacy-error-summary");
    var box = summary && summary.closest("[role=alert]");
    var count = box && box.querySelector("[data-advocacy-error-count]");
    var unlink = function (element, id) {
      var ids = (element.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (x) { return x && x !== id; });
      if (ids.length) { element.setAttribute("aria-describedby", ids.join(" ")); } else { element.removeAttribute("aria-describedby"); }
    };
    var fixed = function (event) {
      var field = event.target.closest && event.target.closest(".advocacy-field");
      var error = field && field.querySelector(".advocacy-error");
      if (!error) { return; }
      var inputs = Array.prototype.slice.call(field.querySelectorAll("input, textarea, select"));
      if (!inputs.every(function (input) { return !input.willValidate || input.checkValidity(); })) { return; }
      inputs.forEach(function (input) { input.removeAttribute("aria-invalid"); unlink(input, error.id); });
      unlink(field, error.id);
      if (summary) {
        summary.querySelectorAll("a[href^='#']").forEach(function (link) {
          var target = document.getElementById(link.getAttribute("href").slice(1));
          if (target && field.contains(target)) { link.closest("li").remove(); }
        });
        var left = summary.querySelectorAll("li").length;
        if (count) {
          count.textContent = "Please check the form: " + left + (left === 1 ? " field needs" : " fields need") + " attention.";
          count.hidden = !left;
        }
        if (!left && box && !box.querySelector("p:not([data-advocacy-error-count])")) {
          box.remove();
          document.title = document.title.replace(/^Error: /, "");
        }
      }
      error.remove();
    };
    form.addEventListener("input", fixed);
    form.addEventListener("change", fixed);
  });

  var preview = document.querySelector("[data-advocacy-preview]");
  var form = preview && preview.parentNode.querySelector("form.advocacy-form");
  if (!preview || !form) { return; }
  var part = function (name) { return preview.querySelector('[data-preview="' + name + '"]'); };
  var field = function (name) { return form.querySelector('[name="' + name + '"]'); };
  var render = function () {
    var checked = form.querySelector('input[name="rating"]:checked');
    var rating = checked ? parseInt(checked.value, 10) : 0, stars = part("stars");
    stars.textContent = "★★★★★".slice(0, rating) + "☆☆☆☆☆".slice(0, 5 - rating);
    stars.setAttribute("aria-label", rating ? "Rated " + rating + (rating === 1 ? " star" : " stars") + " out of 5" : "No rating yet");
    var body = field("body");
    part("body").textContent = body && body.value.trim() ? body.value.trim() : "Your words appear here.";
    var consent = form.querySelector('input[name="consent"]:checked');
    var anonymous = consent && consent.value === "publish_anonymous";
    var name = field("display_name");
    part("name").textContent = anonymous ? "Anonymous customer" : (name && name.value.trim()) || "Your name";
    var role = field("role");
    part("role").textContent = !anonymous && role && role.value.trim() ? ", " + role.value.trim() : "";
    var title = part("title"), titleField = field("title");
    if (title) { title.textContent = titleField && titleField.value.trim() ? titleField.value.trim() : "Your title"; }
    var private_ = !!(consent && consent.value === "do_not_publish");
    preview.classList.toggle("advocacy-preview--private", private_);
    part("private").hidden = !private_;
  };
  form.addEventListener("input", render);
  form.addEventListener("change", render);
  preview.hidden = false;
  render();
})();
