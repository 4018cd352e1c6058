// The items view: "Select all" ticks every selectable item of the page.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (!all) { return; }
  all.addEventListener("change", function () {
    document.querySelectorAll('#items-table input[name="item_ids"]:not([disabled])').forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();
