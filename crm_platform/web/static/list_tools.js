/* The list's bulk bar (web/list_tools.py): count the ticked rows, tick a page at once, offer "all
   matching the filter" once the page is ticked, and show only the inputs of the chosen action and field.
   Without script the bar still posts: every input is shown and the server reads the chosen ones. */
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var form = document.getElementById("bulk-form");
    if (!form) { return; }
    var picks = Array.prototype.slice.call(document.querySelectorAll("input[data-pick]"));
    var page = document.querySelector("input[data-select-page]");
    var all = form.querySelector(".bulk-all");
    var allBox = form.querySelector("input[name=all_matching]");
    var count = form.querySelector(".bulk-count");
    var template = form.getAttribute("data-selected-text");
    var action = form.querySelector("select[name=action]");

    function refresh() {
      var n = picks.filter(function (p) { return p.checked; }).length;
      var everyOne = n === picks.length && n > 0;
      if (page) { page.checked = everyOne; page.indeterminate = n > 0 && !everyOne; }
      if (all) {
        all.hidden = !everyOne;
        if (!everyOne && allBox) { allBox.checked = false; }
      }
      var text = allBox && allBox.checked ? all.textContent.trim() : template.replace("{n}", String(n));
      count.textContent = text;
    }
    function showParts() {
      var chosen = action.value;
      form.querySelectorAll(".bulk-part[data-action]").forEach(function (part) {
        part.hidden = part.getAttribute("data-action").split(" ").indexOf(chosen) < 0;
      });
      form.querySelectorAll("select[data-bulk-field]").forEach(function (sel) {
        var holder = sel.parentNode;
        holder.querySelectorAll(".bulk-part[data-field]").forEach(function (part) {
          part.hidden = part.getAttribute("data-field") !== sel.value;
        });
      });
    }
    picks.forEach(function (p) { p.addEventListener("change", refresh); });
    if (page) {
      page.addEventListener("change", function () {
        picks.forEach(function (p) { p.checked = page.checked; });
        refresh();
      });
    }
    if (allBox) { allBox.addEventListener("change", refresh); }
    action.addEventListener("change", showParts);
    form.querySelectorAll("select[data-bulk-field]").forEach(function (sel) { sel.addEventListener("change", showParts); });
    form.addEventListener("submit", function (event) {
      var n = picks.filter(function (p) { return p.checked; }).length;
      if (!n && !(allBox && allBox.checked)) { event.preventDefault(); count.textContent = template.replace("{n}", "0"); }
    });
    refresh();
    showParts();
  });
}());
