// One-key actions on the review screen.  Every shortcut clicks a real button of
// a real form (so everything also works with the mouse, or without JavaScript).
(function () {
  "use strict";
  var shortcuts = {};
  document.querySelectorAll("[data-shortcut]").forEach(function (el) {
    shortcuts[el.getAttribute("data-shortcut")] = el;
  });
  var newLabel = document.getElementById("new_label");
  var submitting = false;

  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (submitting) { event.preventDefault(); return; }
      submitting = true;
      document.body.setAttribute("aria-busy", "true");
    });
  });

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" ||
      (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "n" && newLabel) {
      event.preventDefault();
      newLabel.focus();
      return;
    }
    var target = shortcuts[key];
    if (target && !target.disabled) {
      event.preventDefault();
      target.click();
    }
  });

  var heading = document.getElementById("item-heading");
  if (heading) { heading.focus({ preventScroll: true }); }
})();
