"""The admin's Apply runs the plan it showed, or nothing: the plan page carries the revision the plan
was made at, and an Apply after someone else changed the configuration is refused (409) with the
plan as it stands now (SQLite and PostgreSQL)."""
from __future__ import annotations

import html
import re

import pytest

from test_admin_designer import sign_in, text_of

STALE_EN = "The configuration was changed by someone else after this plan was shown"
STALE_ZH = "配置在预览之后已被他人修改"


@pytest.fixture
def admin(app):
    return sign_in(app.test_client())


def press_apply(admin, page):
    """Post the plan page's form as a browser does when Apply is pressed: its hidden inputs and _confirm."""
    body = page.get_data(as_text=True)
    form = body[body.index('<form method="post"'):]
    form = form[:form.index("</form>")]
    action = html.unescape(re.search(r'action="([^"]+)"', form).group(1))
    data = [(html.unescape(n), html.unescape(v))
            for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)]
    data.append(("_confirm", "1"))
    from werkzeug.datastructures import MultiDict
    return admin.post(action, data=MultiDict(data))


def hidden_revision(page) -> int:
    return int(re.search(r'name="_revision" value="(\d+)"', page.get_data(as_text=True)).group(1))


def test_apply_with_no_change_in_between_applies_the_previewed_plan(admin, platform, student):
    revision = platform.metadata.state().revision
    preview = admin.post("/admin/entities/student/edit", data={"label_en": "Pupil", "label_zh": "学生",
                                                               "title_field": "name"})
    assert preview.status_code == 200 and hidden_revision(preview) == revision
    r = press_apply(admin, preview)
    assert r.status_code == 302
    state = platform.metadata.state()
    assert state.entities["student"].doc["label"] == {"en": "Pupil", "zh": "学生"}
    assert state.revision == revision + 1


def test_apply_after_someone_else_changed_the_entity_is_refused_and_shows_the_new_plan(admin, client, platform,
                                                                                       student):
    preview = admin.post("/admin/entities/student/edit", data={"label_en": "Pupil", "label_zh": "学生",
                                                               "title_field": "name"})
    assert preview.status_code == 200 and "Apply" in text_of(preview)
    shown_at = hidden_revision(preview)

    # Meanwhile, through the API, someone else changes the same entity.
    r = client.post("/api/meta/entities/student/fields", json={"key": "nickname", "type": "text"})
    assert r.status_code == 201, r.get_json()
    theirs = platform.metadata.state()
    assert theirs.revision == shown_at + 1

    r = press_apply(admin, preview)
    assert r.status_code == 409
    page = text_of(r)
    assert STALE_EN in page
    assert f"revision {shown_at}, now {theirs.revision}" in page and "nothing was applied" in page
    assert 'data-testid="plan"' in r.get_data(as_text=True) and "Apply" in page  # the plan as it stands now
    assert hidden_revision(r) == theirs.revision
    now = platform.metadata.state()  # nothing applied: the other change stands, ours is not there
    assert now.revision == theirs.revision and now.entities["student"].doc == theirs.entities["student"].doc
    assert now.entities["student"].doc["label"] == {"en": "Student", "zh": "学员"}
    assert platform.metadata.revisions(limit=1)[0]["action"] == "add_field"

    # Applying the new plan, seen now, applies it on top of the other change.
    r = press_apply(admin, r)
    assert r.status_code == 302
    doc = platform.metadata.state().entities["student"].doc
    assert doc["label"] == {"en": "Pupil", "zh": "学生"} and "nickname" in [f["key"] for f in doc["fields"]]


def test_apply_of_a_taxonomy_changed_through_the_api_since_the_preview_is_refused(admin, client, platform):
    r = client.post("/api/meta/taxonomies", json={"key": "level", "label": "Level",
                                                  "tags": [{"key": "vip", "label": "VIP"}]})
    assert r.status_code == 201, r.get_json()
    form = {"key": "level", "label_en": "Level", "tags-0-key": "vip", "tags-0-label_en": "VIP",
            "tags-1-key": "new", "tags-1-label_en": "New customer"}
    preview = admin.post("/admin/taxonomies/level/edit", data=form)
    assert preview.status_code == 200 and "Apply" in text_of(preview)

    assert client.patch("/api/meta/taxonomies/level", json={"tags": [{"key": "vip", "label": "VIP"},
                                                                      {"key": "gold", "label": "Gold"}]}).status_code == 200
    theirs = platform.metadata.state()

    r = press_apply(admin, preview)
    assert r.status_code == 409
    page = text_of(r)
    assert STALE_EN in page and "update taxonomy level" in page
    now = platform.metadata.state()
    assert now.revision == theirs.revision
    assert [t["key"] for t in now.taxonomies["level"].doc["tags"]] == ["vip", "gold"]

    assert press_apply(admin, r).status_code == 302
    assert [t["key"] for t in platform.metadata.state().taxonomies["level"].doc["tags"]] == ["vip", "new"]


def test_an_apply_whose_revision_is_not_a_number_is_refused_and_changes_nothing(admin, platform, student):
    before = platform.metadata.state()
    r = admin.post("/admin/entities/student/edit", data={"label_en": "Pupil", "title_field": "name",
                                                         "_confirm": "1", "_revision": "soon"})
    assert r.status_code == 400 and "_revision is the revision number of the plan shown" in text_of(r)
    assert platform.metadata.state().revision == before.revision
