"""A form that is only shown (a GET) is written from its values without binding WTForms fields
(``controls.ShownForm``); it must be the very page the bound WTForms form gives: every control, value,
choice ticked or selected, and the CSRF input. Checked on every entity of the B2B template, new
(defaults) and edit (its sample records), in both languages, and on a public form."""
from __future__ import annotations

import re

import pytest
from markupsafe import escape

from crm_platform.bundles import importer, templates
from crm_platform.web.controls import CompiledForm
from crm_platform.web.i18n import COOKIE
from test_screens import Pages


TOKEN = re.compile(r'value="[\w-]+\.[\w-]+\.[\w-]+"')


def bound(self, data):
    return self.bind(data=data)


def pages(client, paths, lang):
    client.client.set_cookie(COOKIE, lang)
    out = {}
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        # a CSRF token is signed with the time: the same input, another value each second
        out[path] = TOKEN.sub('value="<token>"', r.get_data(as_text=True))
    return out


@pytest.fixture
def b2b(app, platform):
    app.config["WTF_CSRF_ENABLED"] = True  # the CSRF input is part of what is compared
    importer.run(platform, templates.load("b2b"), actor="test", sample_data=True)
    return platform


def test_shown_forms_are_the_pages_bound_wtforms_forms_give(app, b2b, monkeypatch):
    client = Pages(app)
    model = b2b.records.runtime.current()
    paths = ["/f/contact-us"]
    for entity in model.active():
        paths.append(f"/app/{entity.key}/new")
        paths += [f"/app/{entity.key}/{r['id']}/edit" for r in b2b.records.list(entity.key)["items"][:3]]
    assert len(paths) > 10
    for lang in ("zh", "en"):
        shown = pages(client, paths, lang)
        with monkeypatch.context() as m:
            m.setattr(CompiledForm, "show", bound)
            wtforms = pages(client, paths, lang)
        assert ('lang="zh-CN"' in shown[paths[1]]) == (lang == "zh")
        for path in paths:
            assert 'name="f-csrf_token"' in shown[path] or 'name="csrf_token"' in shown[path], path
            assert shown[path] == wtforms[path], path
    # values really are on the page: an edit form shows its record's title field
    company = b2b.records.list("company")["items"][0]
    page = shown[f"/app/company/{company['id']}/edit"]
    assert re.search(r'value="{}"'.format(re.escape(str(escape(company["name"])))), page)


def test_a_shown_form_without_csrf_protection_has_no_csrf_input(app, student, monkeypatch):
    app.config["WTF_CSRF_ENABLED"] = False
    client = Pages(app)
    shown = TOKEN.sub('value="<token>"', client.get("/app/student/new").get_data(as_text=True))
    monkeypatch.setattr(CompiledForm, "show", bound)
    assert "csrf_token" not in shown.split('class="record-form"')[1].split("</form>")[0]
    assert TOKEN.sub('value="<token>"', client.get("/app/student/new").get_data(as_text=True)) == shown
