// "+ Add a row" under an editable table (choices, tags, stages...): clone the last row with the
// next index, so lists grow without a round trip. Without JavaScript the spare blank rows do.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-add-row]");
  if (!button) return;
  var name = button.getAttribute("data-add-row");
  var body = document.querySelector('table[data-rows="' + name + '"] > tbody') ||
    document.querySelector('div[data-rows="' + name + '"]');  // the pipeline's stage cards
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
    else if (el.type === "radio") el.checked = el.value === "any";  // a new stage: any stage may follow
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

// A key proposed from the label (意向等级 → yi_xiang_deng_ji, "Next step" → next_step) while the
// admin types a new definition's name: the server makes it (pinyin, unique in the entity). The
// proposal follows the label until the admin types a key of her own; she may edit it until the
// first save, after which the key is fixed (renaming is its own action).
(function () {
  var form = document.querySelector("form[data-propose-key]");
  if (!form) return;
  var key = form.querySelector('input[name="key"]');
  var zh = form.querySelector('input[name="label_zh"]');
  var en = form.querySelector('input[name="label_en"]');
  if (!key) return;
  var proposed = key.value === "";
  key.addEventListener("input", function () { proposed = key.value === ""; });
  function propose() {
    if (!proposed) return;
    var label = (zh && zh.value.trim()) || (en && en.value.trim()) || "";
    if (!label) return;
    var url = form.getAttribute("data-propose-key");
    url += (url.indexOf("?") < 0 ? "?" : "&") + "label=" + encodeURIComponent(label);
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && proposed) { key.value = data.key; key.setAttribute("data-proposed", data.key); }
      });
  }
  [zh, en].forEach(function (input) {
    if (input) { input.addEventListener("change", propose); input.addEventListener("blur", propose); }
  });
})();

// A colour picker beside each colour input (a choice's, a tag's): the picker fills the hex text,
// and the text (which may stay empty: no colour) moves the picker. Cloned rows carry their picker.
function addColourPickers() {
  document.querySelectorAll("input[data-colour]").forEach(function (text) {
    var next = text.nextElementSibling;
    if (next && next.type === "color") return;
    var picker = document.createElement("input");
    picker.type = "color";
    picker.className = "colour-picker ml-1";
    picker.setAttribute("aria-label", text.getAttribute("placeholder") || "colour");
    picker.value = /^#[0-9a-fA-F]{6}$/.test(text.value) ? text.value : "#1e88e5";
    text.insertAdjacentElement("afterend", picker);
  });
}
document.addEventListener("input", function (event) {
  var el = event.target;
  if (el.type === "color" && el.previousElementSibling && el.previousElementSibling.hasAttribute("data-colour")) {
    el.previousElementSibling.value = el.value;
  } else if (el.hasAttribute && el.hasAttribute("data-colour")) {
    var picker = el.nextElementSibling;
    if (picker && picker.type === "color" && /^#[0-9a-fA-F]{6}$/.test(el.value)) picker.value = el.value;
  }
});
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-add-row]")) addColourPickers();
});
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", addColourPickers);
else addColourPickers();

// Stage cards: drag by the handle or press ↑ ↓ to reorder; the hidden positions are numbered in card
// order when the form is posted, so the order seen is the order saved.
(function () {
  var dragged = null;
  function cardOf(el) { return el && el.closest && el.closest("[data-stage-card]"); }
  document.addEventListener("dragstart", function (event) {
    if (!event.target.classList || !event.target.classList.contains("drag-handle")) return;
    dragged = cardOf(event.target);
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", "stage");
    event.dataTransfer.setDragImage(dragged, 10, 10);
  });
  document.addEventListener("dragover", function (event) {
    if (dragged && cardOf(event.target)) event.preventDefault();
  });
  document.addEventListener("drop", function (event) {
    var target = cardOf(event.target);
    if (!dragged || !target || target === dragged) return;
    event.preventDefault();
    var box = target.getBoundingClientRect();
    target.parentNode.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? target.nextSibling : target);
    dragged = null;
  });
  document.addEventListener("dragend", function () { dragged = null; });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-move]");
    if (!button) return;
    var card = cardOf(button);
    if (button.getAttribute("data-move") === "-1" && card.previousElementSibling) {
      card.parentNode.insertBefore(card, card.previousElementSibling);
    } else if (button.getAttribute("data-move") === "1" && card.nextElementSibling) {
      card.parentNode.insertBefore(card.nextElementSibling, card);
    }
  });
  document.addEventListener("submit", function (event) {
    event.target.querySelectorAll("[data-stage-cards]").forEach(function (cards) {
      Array.prototype.forEach.call(cards.querySelectorAll("[data-stage-card]"), function (card, n) {
        var position = card.querySelector('input[name$="-position"]');
        if (position) position.value = n + 1;
      });
    });
  }, true);
  // "Any stage" or "only these": picking a stage chooses "only these"; choosing "any" clears the list.
  document.addEventListener("change", function (event) {
    var box = event.target.closest && event.target.closest("[data-next-choice]");
    if (!box) return;
    var list = box.querySelector("select[data-next-list]");
    if (event.target === list) {
      var picked = Array.prototype.some.call(list.options, function (o) { return o.selected && o.value; });
      if (picked) box.querySelector('input[type=radio][value="list"]').checked = true;
    } else if (event.target.type === "radio" && event.target.value === "any") {
      Array.prototype.forEach.call(list.options, function (o) { o.selected = false; });
    }
  });
})();

// A stage card's title follows what is typed into it (its Chinese label, English label or key).
document.addEventListener("input", function (event) {
  var card = event.target.closest && event.target.closest("[data-stage-card]");
  if (!card || !/-(key|label_en|label_zh)$/.test(event.target.name || "")) return;
  var value = function (suffix) {
    var el = card.querySelector('input[name$="-' + suffix + '"]');
    return el ? el.value.trim() : "";
  };
  var title = card.querySelector("[data-stage-title]");
  if (title) title.textContent = value("label_zh") || value("label_en") || value("key") || title.textContent;
});

// Rule and condition builders: the field is picked from the entity's fields, the operators offered
// are those that fit its type, and the value input fits the field (its choices as a choice — several
// for "one of" —, a date picker for dates, a number for numbers and day counts). The typed inputs
// stay in the form (hidden) and carry what the pickers choose, so the post is the same as without
// JavaScript. The fields come from the page's #field-catalogue (admin/conditions.py).
(function () {
  var source = document.getElementById("field-catalogue");
  if (!source) return;
  var catalogue = JSON.parse(source.textContent);
  var MANY = ["in", "not_in", "has_any", "has_all", "has_none"];
  var NO_VALUE = ["is_empty", "is_not_empty"];
  var DAYS = ["within_days", "older_than_days"];

  function rowOf(el) { return el.closest("tr"); }
  function entityOf(row) {
    var related = row.querySelector('select[name$="-related_entity"]');
    if (related && related.value) return related.value;
    var tag = row.closest("[data-tag-row]");
    var rule = tag && tag.querySelector('select[name$="-rule_entity"]');
    if (rule) return rule.value;
    var form = row.closest("[data-cond-entity]");
    return form ? form.getAttribute("data-cond-entity") : "";
  }
  function fieldsOf(row) { return catalogue[entityOf(row)] || []; }
  function fieldOf(row) {
    var input = row.querySelector("[data-cond-field]");
    var key = input ? input.value : "";
    return fieldsOf(row).filter(function (f) { return f.key === key; })[0] || null;
  }
  function picker(input, cls, multiple) {
    var next = input.nextElementSibling;
    if (next && next.classList.contains(cls)) next.remove();
    var select = document.createElement("select");
    select.className = "form-control " + cls;
    select.multiple = !!multiple;
    input.insertAdjacentElement("afterend", select);
    return select;
  }
  function fieldPicker(row) {
    var input = row.querySelector("input[data-cond-field]");
    if (!input) return;  // a form's condition: already a select of the entity's fields
    var select = picker(input, "cond-field-picker");
    select.setAttribute("aria-label", input.getAttribute("placeholder") || "field");
    select.add(new Option("—", ""));
    fieldsOf(row).forEach(function (f) { select.add(new Option(f.label + " (" + f.key + ")", f.key)); });
    if (input.value && !fieldsOf(row).some(function (f) { return f.key === input.value; })) {
      select.add(new Option(input.value, input.value));  // a key the entity no longer has stays visible
    }
    select.value = input.value;
    input.type = "hidden";
  }
  function fit(row) {
    var field = fieldOf(row);
    var op = row.querySelector("select[data-cond-op]");
    var value = row.querySelector("[data-cond-value]");
    if (!op || !value) return;
    Array.prototype.forEach.call(op.options, function (o) {
      var off = !!(o.value && field && field.ops.indexOf(o.value) < 0);
      o.disabled = off;
      o.hidden = off;
    });
    if (op.selectedOptions.length && op.selectedOptions[0].disabled) op.value = "";
    var next = value.nextElementSibling;
    if (next && next.classList.contains("cond-value-picker")) next.remove();
    value.type = "text";
    value.disabled = false;
    if (NO_VALUE.indexOf(op.value) >= 0) {
      value.value = "";
      value.disabled = true;
    } else if (DAYS.indexOf(op.value) >= 0) {
      value.type = "number";
    } else if (field && field.input === "choice") {
      var many = MANY.indexOf(op.value) >= 0;
      var chosen = value.value.split(/[,，;；]/).map(function (v) { return v.trim(); });
      var select = picker(value, "cond-value-picker", many);
      select.setAttribute("aria-label", value.getAttribute("placeholder") || "value");
      if (!many) select.add(new Option("—", ""));
      field.choices.forEach(function (c) { select.add(new Option(c[1], c[0], false, chosen.indexOf(c[0]) >= 0)); });
      value.type = "hidden";
    } else if (field && ["date", "datetime-local", "number", "email"].indexOf(field.input) >= 0
               && MANY.indexOf(op.value) < 0) {
      value.type = field.input;
    }
  }
  function upgrade(row) { fieldPicker(row); fit(row); }
  function upgradeAll(scope) {
    (scope || document).querySelectorAll("[data-cond-field]").forEach(function (el) { upgrade(rowOf(el)); });
  }
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.classList.contains("cond-field-picker")) {
      el.previousElementSibling.value = el.value;
      fit(rowOf(el));
    } else if (el.classList.contains("cond-value-picker")) {
      el.previousElementSibling.value = Array.prototype.filter.call(el.options, function (o) { return o.selected && o.value; })
        .map(function (o) { return o.value; }).join(", ");
    } else if (el.hasAttribute("data-cond-op") || (el.tagName === "SELECT" && el.hasAttribute("data-cond-field"))) {
      fit(rowOf(el));
    } else if (/-(related_entity|rule_entity)$/.test(el.name || "")) {
      upgradeAll(el.closest("[data-tag-row]") || rowOf(el));
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-add-row]")) upgradeAll();
  });
  upgradeAll();
})();
