// Sortable tables: click a column header to sort by it (again to reverse). Inline, no library.
document.querySelectorAll("table").forEach(function (table) {
  var head = table.tHead, body = table.tBodies[0];
  if (!head || !body) return;
  Array.prototype.forEach.call(head.rows[head.rows.length - 1].cells, function (th, col) {
    th.classList.add("sortable");
    th.title = "Sort by this column";
    th.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(head.rows[head.rows.length - 1].cells, function (c) {
        c.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].textContent.trim(), y = b.cells[col].textContent.trim();
        var nx = parseFloat(x.replace(/,/g, "")), ny = parseFloat(y.replace(/,/g, ""));
        var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return up ? cmp : -cmp;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
