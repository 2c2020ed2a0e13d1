// "+ Add a row" under an editable table (choices, tags, stages...): clone the last row with the
// next index, so lists grow without a round trip. Without JavaScript the spare blank rows do.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-add-row]");
  if (!button) return;
  var name = button.getAttribute("data-add-row");
  var body = document.querySelector('table[data-rows="' + name + '"] > tbody');
  if (!body || !body.lastElementChild) return;
  var last = body.lastElementChild;
  var index = body.children.length;
  var copy = last.cloneNode(true);
  var pattern = new RegExp("^" + name.replace(/[-]/g, "\\-") + "-\\d+-");
  // Renumber every name and id inside the copy, nested lists (a tag's conditions) included.
  copy.querySelectorAll("[name], [id], [for], [data-rows], [data-add-row]").forEach(function (el) {
    ["name", "id", "for", "data-rows", "data-add-row"].forEach(function (attr) {
      var v = el.getAttribute(attr);
      if (v) el.setAttribute(attr, (v + "-").replace(pattern, name + "-" + index + "-").slice(0, -1));
    });
  });
  copy.querySelectorAll("input, select, textarea").forEach(function (el) {
    if (el.type === "checkbox") el.checked = false;
    else if (el.tagName === "SELECT") el.selectedIndex = 0;
    else el.value = "";
    el.classList.remove("is-invalid");
  });
  copy.querySelectorAll(".invalid-feedback").forEach(function (el) { el.remove(); });
  body.appendChild(copy);
});

// A select of keys typed in the same form (a tag's parent, a stage's next stages): its options are
// the keys of the rows as they are now, so a tag added a moment ago can already be a parent.
function refreshKeyOptions(select) {
  var list = select.getAttribute("data-options-from");
  var pattern = new RegExp("^" + list + "-\\d+-key$");
  var keys = [];
  document.querySelectorAll("input[name]").forEach(function (input) {
    var v = input.value.trim();
    if (pattern.test(input.name) && v && keys.indexOf(v) < 0) keys.push(v);
  });
  var chosen = Array.prototype.filter.call(select.options, function (o) { return o.selected && o.value; })
    .map(function (o) { return o.value; });
  Array.prototype.slice.call(select.options).forEach(function (o) { if (o.value) o.remove(); });
  keys.concat(chosen.filter(function (v) { return keys.indexOf(v) < 0; })).forEach(function (key) {
    var option = new Option(key, key, false, chosen.indexOf(key) >= 0);
    select.add(option);
  });
}
["focusin", "mousedown"].forEach(function (type) {
  document.addEventListener(type, function (event) {
    var select = event.target.closest && event.target.closest("select[data-options-from]");
    if (select) refreshKeyOptions(select);
  });
});
