// Sortable tables: a button in each header cell sorts by that column (again: reverse).
(function () {
  "use strict";
  function value(cell, text) {
    var raw = (cell ? cell.innerText : "").trim();
    if (text) { return raw.toLowerCase(); }
    var n = parseFloat(raw.replace(/[%,]/g, ""));
    return isNaN(n) ? -Infinity : n;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      var button = th.querySelector("button.sort");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var text = button.getAttribute("data-type") === "text";
        var asc = th.getAttribute("aria-sort") !== (text ? "ascending" : "descending");
        var dir = text ? (asc ? "ascending" : "descending") : (asc ? "descending" : "ascending");
        heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = value(a.cells[col], text), y = value(b.cells[col], text);
          var c = x < y ? -1 : x > y ? 1 : 0;
          return dir === "ascending" ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
