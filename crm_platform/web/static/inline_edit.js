/* Editing a list cell in place (web/inline_cells.py says which cells). Tap or Enter on a cell opens
   its control; Save posts {field, value, version, reason} to /app/<entity>/<id>/inline; the answer is
   the cell's new text and the row's new version. A record changed by someone else since the list was
   read answers 409 with what it holds now: the cell shows that and says so. The server judges every
   rule; nothing here is a second validator. */
(function () {
  "use strict";
  var table = document.querySelector("table.records[data-inline-edit]");
  if (!table) { return; }
  var setup = JSON.parse(table.getAttribute("data-inline-edit"));
  var csrf = table.getAttribute("data-csrf");
  var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
  var words = zh ? {save: "保存", cancel: "取消", reason: "修改原因", saved: "已保存", failed: "保存失败"}
                 : {save: "Save", cancel: "Cancel", reason: "Reason for the change", saved: "Saved", failed: "Not saved"};
  var open = null;

  function inputFor(spec, value) {
    var el;
    if (spec.options) {
      el = document.createElement("select");
      var blank = document.createElement("option");
      blank.value = "";
      blank.textContent = "—";
      el.appendChild(blank);
      spec.options.forEach(function (o) {
        var opt = document.createElement("option");
        opt.value = o[0];
        opt.textContent = o[1];
        el.appendChild(opt);
      });
    } else {
      el = document.createElement("input");
      var types = {number: "number", decimal: "number", date: "date", "datetime-local": "datetime-local",
                   email: "email", tel: "tel", url: "url"};
      el.type = types[spec.control] || "text";
      if (spec.control === "decimal") { el.step = "any"; }
      if (spec.control === "number") { el.step = "1"; }
    }
    el.value = value;
    el.className = "inline-input";
    return el;
  }

  function close(cell, text) {
    cell.classList.remove("editing");
    cell.textContent = text;
    open = null;
  }

  function edit(cell) {
    if (open === cell || cell.classList.contains("editing")) { return; }
    if (open) { open.cancel(); }
    var key = cell.getAttribute("data-inline"), spec = setup.controls[key];
    var row = cell.closest("tr"), before = cell.textContent;
    var label = cell.getAttribute("data-label") || key;
    var form = document.createElement("form");
    form.className = "inline-form";
    var input = inputFor(spec, cell.getAttribute("data-value") || "");
    input.setAttribute("aria-label", label);
    form.appendChild(input);
    var reason = null;
    if (setup.reason) {
      reason = document.createElement("input");
      reason.type = "text";
      reason.maxLength = 2000;
      reason.placeholder = words.reason;
      reason.setAttribute("aria-label", words.reason);
      reason.className = "inline-reason";
      form.appendChild(reason);
    }
    var save = document.createElement("button");
    save.type = "submit";
    save.className = "primary";
    save.textContent = words.save;
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = words.cancel;
    var message = document.createElement("p");
    message.className = "inline-error";
    message.setAttribute("role", "alert");
    form.appendChild(save);
    form.appendChild(cancel);
    form.appendChild(message);
    cell.textContent = "";
    cell.classList.add("editing");
    cell.appendChild(form);
    input.focus();
    open = cell;
    cell.cancel = function () { close(cell, before); };
    cancel.addEventListener("click", function (e) { e.stopPropagation(); cell.cancel(); cell.focus(); });
    form.addEventListener("keydown", function (e) { if (e.key === "Escape") { cell.cancel(); cell.focus(); } });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      save.disabled = true;
      message.textContent = "";
      fetch(setup.url + row.getAttribute("data-id") + "/inline", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
        body: JSON.stringify({field: key, value: input.value, version: parseInt(row.getAttribute("data-version"), 10),
                              reason: reason && reason.value ? reason.value : null})
      }).then(function (response) {
        return response.json().then(function (body) { return {status: response.status, body: body}; });
      }).then(function (answer) {
        save.disabled = false;
        var body = answer.body;
        if (answer.status === 200) {
          row.setAttribute("data-version", String(body.version));
          cell.setAttribute("data-value", body.value);
          close(cell, body.text);
          cell.classList.add("saved");
          cell.setAttribute("title", words.saved);
          return;
        }
        message.textContent = (body.errors || []).map(function (e) {
          return (e.label && e.field !== key ? e.label + ": " : "") + e.message;
        }).join("; ") || words.failed;
        if (body.current) {  // stale: the record moved on; show what it holds now and edit from there
          row.setAttribute("data-version", String(body.current.version));
          cell.setAttribute("data-value", body.current.value);
          input.value = body.current.value;
          before = body.current.text;
          cell.classList.add("stale");
        }
      }).catch(function () {
        save.disabled = false;
        message.textContent = words.failed;
      });
    });
  }

  table.addEventListener("click", function (e) {
    var cell = e.target.closest("td[data-inline]");
    if (!cell || e.target.closest("form.inline-form")) { return; }
    edit(cell);
  });
  table.addEventListener("keydown", function (e) {
    var cell = e.target.closest("td[data-inline]");
    if (cell && e.target === cell && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      edit(cell);
    }
  });
})();
