// Sortable tables: click a column header, or focus it with Tab and press Enter or Space, to sort
// by it (again to reverse). Every table is put in a box that scrolls sideways on its own, so a
// wide table never widens the page. Inline, no library.
document.querySelectorAll("table").forEach(function (table) {
  var parent = table.parentNode;
  if (!(parent.classList && parent.classList.contains("table-wrap"))) {
    var wrap = document.createElement("div");
    wrap.className = "table-wrap";
    parent.insertBefore(wrap, table);
    wrap.appendChild(table);
  }
  var head = table.tHead, body = table.tBodies[0];
  if (!head || !body) return;
  var headers = head.rows[head.rows.length - 1].cells;
  function sortBy(th, col) {
    var up = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(headers, function (c) { c.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].textContent.trim(), y = b.cells[col].textContent.trim();
      var nx = parseFloat(x.replace(/,/g, "")), ny = parseFloat(y.replace(/,/g, ""));
      var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return up ? cmp : -cmp;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(headers, function (th, col) {
    th.classList.add("sortable");
    th.title = "Sort by this column";
    th.tabIndex = 0;
    th.setAttribute("aria-sort", "none");
    th.addEventListener("click", function () { sortBy(th, col); });
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " " || e.key === "Spacebar") {
        e.preventDefault();
        sortBy(th, col);
      }
    });
  });
});
