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
