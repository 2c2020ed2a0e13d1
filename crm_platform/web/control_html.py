"""The controls of a form as HTML: each control's markup written once per revision (``Control.html``,
see ``controls.with_markup``) joined here with what one request holds — the value of the bound
WTForms field, its errors, a reference's choices (``records``: key → ``option_markup``) and the tags
rules hold (``rule_choices``).

This is plain string joining rather than a Jinja macro: a record form has dozens of controls and
every page of the screens, the public forms included, renders them; a macro call per control cost
more than everything else on the page (``bench/bench_list_page.py``).
"""
from __future__ import annotations

from markupsafe import Markup, escape

_CHECKED = " checked"


def _text(value) -> str:
    """A value as an attribute or element text: nothing for None, escaped otherwise."""
    return "" if value is None else escape(value)


def _pick(h: dict, parts, value) -> str:
    """The "choose" option then each option, the one held marked selected."""
    out = [h["choose_selected"] if value == "" and isinstance(value, str) else h["choose"]]
    out += [selected if v == value else plain for v, plain, selected in parts]
    return "".join(out)


def _errors(errs) -> str:
    return "; ".join(escape(e["message"]) for e in errs)


def field_html(c, f, errs, records, rule_choices, picked=None) -> str:
    """One control: label, input, help and error line (``picked``: key → the title of a reference
    filled without a drop-down, shown under its input)."""
    h = c.html
    out = [h["div_invalid"] if errs else h["div"]]
    if c.kind == "checkboxes":
        held = f.data or ()
        out.append(h["head"])
        out += [before + (_CHECKED if v in held else "") + after for v, before, after in h["boxes"]]
        out.append("</ul>")
        by_rule = rule_choices.get(c.key) if rule_choices else None
        if by_rule:  # applied by rules: shown as they stand, never posted
            out.append('<ul class="choices rule-tags">')
            out += [f'<li><label><input type="checkbox" value="{escape(value)}" disabled{_CHECKED if on else ""}> '
                    f'{escape(text)} {h["by_rule"]}</label></li>' for value, text, on in by_rule]
            out.append("</ul>")
        out.append("</fieldset>")
    else:
        out.append(h["head"])
        invalid = ' aria-invalid="true"' if errs else ""
        choices = records.get(c.key) if c.kind == "record" and records else None
        if c.kind == "select":
            out += [h["open"], invalid, h["named"], ">", _pick(h, h["options"], f.data), "</select>"]
        elif choices is not None:
            out += [h["choice_open"], invalid, h["named"], ">", _pick(h, choices, f.data), "</select>"]
        elif c.kind == "textarea":
            out += [h["open"], invalid, h["named"], ">\n", _text(f.data), "</textarea>"]
        else:
            out += [h["open"], invalid, h["typed"], ' value="', _text(f.data), '">']
            if c.kind == "record":
                out.append(f'<datalist id="lookup-{escape(c.key)}"></datalist>')
                if picked and picked.get(c.key):
                    out.append(f'<p class="picked" data-picked="{escape(c.key)}">{escape(picked[c.key])}</p>')
    out += [h["help"], h["error"], _errors(errs), "</p></div>"]
    return "".join(out)


def form_sections(cf, wtform, field_errors, records=None, rule_choices=None, picked=None) -> Markup:
    """The form's sections, each a card with its title and its controls."""
    out = []
    for title, controls in cf.sections:
        out.append(f'<section class="card"><h2>{escape(title)}</h2><div class="grid">')
        out += [field_html(c, wtform[c.key], field_errors.get(c.key, ()), records, rule_choices, picked)
                for c in controls]
        out.append("</div></section>")
    return Markup("".join(out))
