/* The screens' script: time zone, local times, form conditions, kanban moves. No framework.
   Everything here is comfort: the server enforces every rule (conditions, stage moves) itself. */
(function () {
  "use strict";

  // The server shows and reads datetime-local controls in the browser's zone (minutes east of UTC).
  var offset = String(-new Date().getTimezoneOffset());
  if (document.cookie.indexOf("crm_tz=" + offset) === -1) {
    document.cookie = "crm_tz=" + offset + "; path=/; SameSite=Lax; max-age=31536000";
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localTimes() {
    document.querySelectorAll("time[datetime]:not([data-relative])").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) { return; }
      el.textContent = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
        pad(d.getHours()) + ":" + pad(d.getMinutes());
    });
  }

  // ---- form conditions: show / require a field while another field has certain values ----------
  function valuesOf(form, key) {
    var out = [];
    form.querySelectorAll('[name="f-' + key + '"]').forEach(function (el) {
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
      if (el.value !== "") { out.push(el.value); }
    });
    return out;
  }
  function holds(form, when) {
    var wanted = (when.op === "in" ? when.value : [when.value]).map(String);
    return valuesOf(form, when.field).some(function (v) { return wanted.indexOf(v) !== -1; });
  }
  function applyConditions(form) {
    form.querySelectorAll(".field[data-conditions]").forEach(function (row) {
      var conditions = JSON.parse(row.getAttribute("data-conditions"));
      var show = true, require = false;
      conditions.forEach(function (c) {
        var ok = holds(form, c.when);
        if (c.effect === "show" && !ok) { show = false; }
        if (c.effect === "require" && ok) { require = true; }
      });
      row.hidden = !show;
      row.classList.toggle("required-now", require);
      var mark = row.querySelector(".req.conditional");
      var title = row.querySelector("label, legend");
      if (require && !mark && title) {
        mark = document.createElement("span");
        mark.className = "req conditional";
        mark.textContent = " *";
        title.appendChild(mark);
      } else if (!require && mark) {
        mark.remove();
      }
      row.querySelectorAll("input, select, textarea").forEach(function (el) {
        if (require) { el.setAttribute("aria-required", "true"); } else { el.removeAttribute("aria-required"); }
      });
    });
  }

  // ---- lists: leave empty filter inputs out of the address -----------------------------------
  function dropEmpty(form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("input, select").forEach(function (el) {
        if (el.name && el.value === "" && el.type !== "checkbox") { el.disabled = true; }
      });
    });
  }

  // ---- kanban: drag a card to another column, or pick the stage on a phone ----------------------
  function board(root) {
    if (!root.hasAttribute("data-can-move")) { return; }
    var url = root.getAttribute("data-move-url"), csrf = root.getAttribute("data-csrf");
    var field = root.getAttribute("data-field");
    var dragged = null;
    var reason = document.querySelector("[data-move-reason]");

    function count(column, delta) {
      var n = column.querySelector("[data-count]");
      n.textContent = String(parseInt(n.textContent, 10) + delta);
    }
    // A move refused for fields the stage requires: those fields in a small form on the card; its
    // button tries the move again with their values (one update on the server).
    function fillForm(card, column, fields) {
      var old = card.querySelector(".fill-form");
      if (old) { old.remove(); }
      var form = document.createElement("form");
      form.className = "fill-form";
      var title = document.createElement("p");
      title.textContent = root.getAttribute("data-fill-title");
      form.appendChild(title);
      fields.forEach(function (f) {
        var id = "fill-" + card.getAttribute("data-id") + "-" + f.field;
        var label = document.createElement("label");
        label.setAttribute("for", id);
        label.textContent = f.label;
        var input;
        if (f.options) {
          input = document.createElement("select");
          [["", "—"]].concat(f.options).forEach(function (o) {
            var opt = document.createElement("option");
            opt.value = o[0];
            opt.textContent = o[1];
            input.appendChild(opt);
          });
        } else if (f.control === "textarea") {
          input = document.createElement("textarea");
        } else {
          input = document.createElement("input");
          var types = {number: "number", decimal: "number", date: "date", "datetime-local": "datetime-local",
                       email: "email", tel: "tel", url: "url"};
          input.type = types[f.control] || "text";
          if (f.control === "decimal") { input.step = "any"; }
        }
        input.id = id;
        input.name = f.field;
        input.value = f.value || "";
        form.appendChild(label);
        form.appendChild(input);
      });
      var retry = document.createElement("button");
      retry.type = "submit";
      retry.className = "primary";
      retry.textContent = root.getAttribute("data-fill-retry");
      var cancel = document.createElement("button");
      cancel.type = "button";
      cancel.textContent = root.getAttribute("data-fill-cancel");
      form.appendChild(retry);
      form.appendChild(cancel);
      cancel.addEventListener("click", function () { form.remove(); });
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var values = {};
        form.querySelectorAll("[name]").forEach(function (el) { values[el.name] = el.value; });
        move(card, column, values);
      });
      card.appendChild(form);
      var first = form.querySelector("input, select, textarea");
      if (first) { first.focus(); }
    }

    function move(card, column, values) {
      var from = card.closest(".column");
      if (!column || column === from) { return; }
      var error = card.querySelector(".card-error");
      error.textContent = "";
      card.classList.remove("refused");
      fetch(url + "/" + card.getAttribute("data-id") + "/stage", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
        body: JSON.stringify({field: field, stage: column.getAttribute("data-stage"),
                              version: parseInt(card.getAttribute("data-version"), 10),
                              reason: reason ? reason.value : null, values: values || null})
      }).then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      }).then(function (answer) {
        if (!answer.ok) {
          error.textContent = (answer.body.errors || []).map(function (e) {
            // the server names fields by their labels in the page's language
            return (e.field && e.field !== field ? (e.label || e.field) + ": " : "") + e.message;
          }).join("; ") || "refused";
          card.classList.add("refused");
          var select = card.querySelector("[data-move]");
          if (select) { select.value = from.getAttribute("data-stage"); }
          if (answer.body.fill && answer.body.fill.length) { fillForm(card, column, answer.body.fill); }
          return;
        }
        var filled = card.querySelector(".fill-form");
        if (filled) { filled.remove(); }
        card.setAttribute("data-version", String(answer.body.version));
        if (answer.body.stage !== column.getAttribute("data-stage")) {
          // held for an approver's decision: the card stays where it is, saying so
          error.textContent = answer.body.message || "";
          var back = card.querySelector("[data-move]");
          if (back) { back.value = from.getAttribute("data-stage"); }
          return;
        }
        column.querySelector("ol.cards").prepend(card);
        count(from, -1);
        count(column, 1);
        var select = card.querySelector("[data-move]");
        if (select) { select.value = column.getAttribute("data-stage"); }
      }).catch(function () {
        error.textContent = "network error";
        card.classList.add("refused");
      });
    }

    root.addEventListener("dragstart", function (e) {
      dragged = e.target.closest(".kcard");
      if (!dragged) { return; }
      dragged.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", dragged.getAttribute("data-id"));
    });
    root.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("dragging"); }
      root.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
    });
    root.querySelectorAll(".column").forEach(function (column) {
      column.addEventListener("dragover", function (e) { e.preventDefault(); column.classList.add("drop-target"); });
      column.addEventListener("dragleave", function () { column.classList.remove("drop-target"); });
      column.addEventListener("drop", function (e) {
        e.preventDefault();
        column.classList.remove("drop-target");
        var id = e.dataTransfer.getData("text/plain");
        var card = dragged || root.querySelector('.kcard[data-id="' + id + '"]');
        if (card) { move(card, column); }
      });
    });
    root.addEventListener("change", function (e) {
      if (!e.target.matches("[data-move]")) { return; }
      var card = e.target.closest(".kcard");
      move(card, root.querySelector('.column[data-stage="' + e.target.value + '"]'));
    });
  }

  // ---- the board's columns ask for their next cards as they are scrolled near their end -----------
  function boardPaging(root) {
    var url = root.getAttribute("data-cards-url"), pipeline = root.getAttribute("data-pipeline");
    root.querySelectorAll(".column").forEach(function (column) {
      var more = column.querySelector("[data-more]"), list = column.querySelector("[data-cards]");
      if (!more || !list) { return; }
      var busy = false;
      function load(e) {
        if (e) { e.preventDefault(); }
        if (busy || !more.isConnected) { return; }
        busy = true;
        var page = parseInt(more.getAttribute("data-page"), 10) + 1;
        fetch(url + "?pipeline=" + encodeURIComponent(pipeline) + "&stage=" +
              encodeURIComponent(column.getAttribute("data-stage")) + "&page=" + page,
              {credentials: "same-origin", headers: {"Accept": "application/json"}})
          .then(function (r) { return r.json(); })
          .then(function (body) {
            busy = false;
            list.insertAdjacentHTML("beforeend", body.html);
            more.setAttribute("data-page", String(page));
            if (!body.has_more) { more.remove(); return; }
            var left = parseInt(more.getAttribute("data-total"), 10) - list.querySelectorAll(".kcard").length;
            more.textContent = more.getAttribute("data-label") + " (" + Math.max(left, 0) + ")";
          })
          .catch(function () { busy = false; });
      }
      more.addEventListener("click", load);
      list.addEventListener("scroll", function () {
        if (list.scrollTop + list.clientHeight >= list.scrollHeight - 120) { load(); }
      });
    });
  }

  // ---- reference pickers: type part of a name, pick the record (its id is what is posted) -------
  function lookup(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q || /^\d+$/.test(q)) { return; }
      timer = setTimeout(function () {
        fetch(input.getAttribute("data-lookup") + "?q=" + encodeURIComponent(q), {credentials: "same-origin",
          headers: {"Accept": "application/json"}})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) {
            list.textContent = "";
            items.forEach(function (item) {
              var option = document.createElement("option");
              option.value = String(item.id);
              option.label = item.title;
              option.textContent = item.title;
              list.appendChild(option);
            });
          });
      }, 200);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-lookup]").forEach(lookup);
    localTimes();
    document.querySelectorAll("form.record-form").forEach(function (form) {
      applyConditions(form);
      form.addEventListener("change", function () { applyConditions(form); });
      form.addEventListener("input", function () { applyConditions(form); });
    });
    document.querySelectorAll("form[data-drop-empty]").forEach(dropEmpty);
    document.querySelectorAll("[data-board]").forEach(board);
    document.querySelectorAll("[data-board]").forEach(boardPaging);
    // a chooser that acts at once (the dashboard picker); its form still has a button without script
    document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
  });
}());

/* The import page: follow a running import's progress, then show its report. */
(function () {
  "use strict";
  var box = document.querySelector("[data-import-progress]");
  if (!box) { return; }
  var bar = box.querySelector("progress"), text = box.querySelector("[data-progress-text]");
  function poll() {
    fetch(box.getAttribute("data-import-progress"), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.status === "done" || s.status === "failed") { window.location.reload(); return; }
        if (s.total) { bar.max = s.total; bar.value = s.processed || 0; text.textContent = (s.processed || 0) + " / " + s.total; }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
