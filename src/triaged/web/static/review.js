// One-key actions on the review screen.  Every shortcut clicks a real button of
// a real form (so everything also works with the mouse); the label picker is a
// type-ahead over the full label list (names and descriptions), which is also
// rendered, collapsed, as plain buttons for use without JavaScript.
(function () {
  "use strict";
  var shortcuts = {};
  document.querySelectorAll("[data-shortcut]").forEach(function (el) {
    shortcuts[el.getAttribute("data-shortcut")] = el;
  });
  var form = document.getElementById("resolve-form");
  var newLabel = document.getElementById("new_label");
  var note = document.getElementById("note");
  var search = document.getElementById("label-search");
  var results = document.getElementById("label-results");
  var help = document.getElementById("help");
  var guidelines = document.getElementById("guidelines");
  var submitting = false;

  document.querySelectorAll("form").forEach(function (f) {
    if (f.getAttribute("method") === "dialog") { return; }
    f.addEventListener("submit", function (event) {
      if (submitting) { event.preventDefault(); return; }
      submitting = true;
      document.body.setAttribute("aria-busy", "true");
    });
  });

  // ---------------------------------------------------------------- picker
  var labels = [];
  document.querySelectorAll("#all-labels [data-label]").forEach(function (el) {
    var name = el.getAttribute("data-label");
    var desc = el.getAttribute("data-description") || "";
    labels.push({ name: name, desc: desc, hay: (name.replace(/[_-]/g, " ") + " " + desc).toLowerCase() });
  });

  // Fuzzy score: every query word must occur in name or description, in order as a
  // subsequence at worst; substrings and word starts score higher.  -1: no match.
  function wordScore(word, lab) {
    var nameText = lab.name.replace(/[_-]/g, " ").toLowerCase();
    var i = nameText.indexOf(word);
    if (i === 0) { return 100; }
    if (i > 0) { return nameText.charAt(i - 1) === " " ? 80 : 60; }
    var j = lab.hay.indexOf(word);
    if (j >= 0) { return lab.hay.charAt(j - 1) === " " ? 45 : 35; }
    var k = 0, gaps = 0, last = -1;
    for (var p = 0; p < nameText.length && k < word.length; p++) {
      if (nameText.charAt(p) === word.charAt(k)) {
        if (last >= 0 && p !== last + 1) { gaps++; }
        last = p; k++;
      }
    }
    return k === word.length ? Math.max(5, 30 - 3 * gaps) : -1;
  }

  function match(query) {
    var words = query.toLowerCase().replace(/[_-]/g, " ").split(/\s+/).filter(Boolean);
    if (!words.length) { return []; }
    var scored = [];
    labels.forEach(function (lab) {
      var total = 0;
      for (var w = 0; w < words.length; w++) {
        var s = wordScore(words[w], lab);
        if (s < 0) { return; }
        total += s;
      }
      scored.push({ lab: lab, score: total - lab.name.length / 100 });
    });
    scored.sort(function (a, b) { return b.score - a.score; });
    return scored.slice(0, 8).map(function (s) { return s.lab; });
  }

  var active = -1, shown = [];

  function render() {
    results.innerHTML = "";
    shown.forEach(function (lab, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = "label-opt-" + i;
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      li.setAttribute("data-label", lab.name);
      var b = document.createElement("strong");
      b.textContent = lab.name;
      li.appendChild(b);
      if (lab.desc) {
        var d = document.createElement("span");
        d.className = "muted small";
        d.textContent = lab.desc;
        li.appendChild(d);
      }
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(lab.name); });
      results.appendChild(li);
    });
    var open = shown.length > 0;
    results.hidden = !open;
    search.setAttribute("aria-expanded", open ? "true" : "false");
    if (active >= 0) { search.setAttribute("aria-activedescendant", "label-opt-" + active); }
    else { search.removeAttribute("aria-activedescendant"); }
  }

  function choose(name) {
    if (!form || submitting) { return; }
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "choice";
    input.value = "label:" + name;
    form.appendChild(input);
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  if (search) {
    search.addEventListener("input", function () {
      shown = match(search.value);
      active = shown.length ? 0 : -1;
      render();
    });
    search.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!shown.length) { return; }
        var step = event.key === "ArrowDown" ? 1 : -1;
        active = (active + step + shown.length) % shown.length;
        render();
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (active >= 0 && shown[active]) { choose(shown[active].name); }
      } else if (event.key === "Escape") {
        shown = []; active = -1; render();
      }
    });
    search.addEventListener("blur", function () { window.setTimeout(function () { shown = []; render(); }, 150); });
  }

  if (newLabel) {
    // Propose with no name is stopped here (the server refuses it too): the field says why.
    // Not `required` on the field: every other answer button submits the same form.
    var propose = document.getElementById("propose");
    if (propose) {
      propose.addEventListener("click", function (event) {
        if (newLabel.value.trim()) { return; }
        event.preventDefault();
        newLabel.setCustomValidity("Name the new category first.");
        newLabel.reportValidity();
        newLabel.focus();
      });
    }
    newLabel.addEventListener("input", function () {
      newLabel.setCustomValidity("");
      newLabel.removeAttribute("aria-invalid");
    });
    newLabel.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        if (newLabel.value.trim()) { document.getElementById("propose").click(); }
      }
    });
  }
  if (note) {
    note.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); note.blur(); }
    });
  }

  // ------------------------------------------------------------------ keys
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" ||
      (target && target.isContentEditable);
  }

  function activatable(target) {
    return !!(target && target.closest &&
      target.closest("button, a[href], summary, [role=button], [role=link]"));
  }

  function focusField(el) { el.focus({ preventScroll: true }); }

  function toggleHelp() {
    if (!help) { return; }
    if (help.open) { help.close(); } else { help.showModal(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    if (help && help.open) {
      if (event.key === "?") { event.preventDefault(); help.close(); }
      return;  // Escape closes the dialog natively
    }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    // Enter and Space on a focused button, link or summary do what they do natively
    // (press it, follow it, open it): never "Next item" or another shortcut instead.
    if ((key === "Enter" || key === " ") && activatable(event.target)) { return; }
    if (key === "?") { event.preventDefault(); toggleHelp(); return; }
    if ((key === "l" || key === "/") && search) { event.preventDefault(); focusField(search); return; }
    if (key === "n" && newLabel) { event.preventDefault(); focusField(newLabel); return; }
    if (key === "m" && note) { event.preventDefault(); focusField(note); return; }
    if (key === "g" && guidelines) { event.preventDefault(); guidelines.open = !guidelines.open; return; }
    var target = shortcuts[key];
    if (target && !target.disabled) {
      event.preventDefault();
      target.click();
    }
  });

  var helpOpen = document.getElementById("help-open");
  if (helpOpen) {
    helpOpen.addEventListener("click", function (event) { event.preventDefault(); toggleHelp(); });
  }

  var heading = document.getElementById("item-heading");
  if (heading) { heading.focus({ preventScroll: true }); }
  // The script is deferred: a key pressed before this line runs does nothing.  The
  // attribute says the shortcuts are live (the browser tests wait for it).
  document.documentElement.setAttribute("data-keys", "ready");
})();
