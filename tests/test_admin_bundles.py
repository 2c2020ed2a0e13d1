"""Templates and configurations in the browser's admin (issue 20, item 6), on SQLite and PostgreSQL:
the gallery (what each template brings, installed version, upgrade available), install with the
plan first and ``expect_revision`` on Apply, export as a download, upload → plan → conflicts settled
one by one → apply, the installed bundles with version and date."""
from __future__ import annotations

import html
import io
import json
import re

import pytest

from crm_platform.bundles import importer
from crm_platform.bundles.format import FORMAT, FORMAT_VERSION, seal
from test_admin_designer import sign_in, text_of


@pytest.fixture
def admin_zh(app):
    client = sign_in(app.test_client())
    client.set_cookie("crm_lang", "zh")
    return client


def course_bundle(version: str, label: str, **extra_field) -> dict:
    fields = [{"key": "title", "type": "text", "label": {"en": "Title", "zh": "课程名"}, **extra_field}]
    return seal({"format": FORMAT, "format_version": FORMAT_VERSION, "name": "school", "version": version,
                 "definitions": {"entity": [{"key": "course", "label": {"en": label, "zh": "课程"},
                                             "title_field": "title", "fields": fields}]}})


def plan_form(page) -> list[tuple[str, str]]:
    """The plan page's form as a browser posts it: hidden inputs, the textarea carrying the bundle,
    and each conflict's select at its chosen option."""
    body = page.get_data(as_text=True)
    form = body[body.index('data-testid="bundle-plan-form"'):]
    form = form[:form.index("</form>")]
    data = [(html.unescape(n), html.unescape(v))
            for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)]
    data += [(n, html.unescape(v)) for n, v in re.findall(r'<textarea name="(bundle_text)" hidden>(.*?)</textarea>',
                                                          form, re.S)]
    for name, options in re.findall(r'<select[^>]*name="(resolve::[^"]+)">(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        data.append((html.unescape(name), chosen.group(1) if chosen else ""))
    return data


def post_plan(client, page, action, **changes):
    data = dict(plan_form(page))
    data.update(changes)
    return client.post(action, data=data, content_type="multipart/form-data")


def test_the_gallery_says_what_each_template_brings_and_what_is_installed(admin_zh):
    page = text_of(admin_zh.get("/admin/bundles/"))
    assert "行业模板" in page and "教育培训" in page and "学员" in page and "条示例数据" in page
    assert "还没有安装任何模板或配置" in page


def test_a_template_is_installed_from_the_gallery_with_sample_data_after_its_plan(admin_zh, platform):
    plan = admin_zh.post("/admin/bundles/templates/education", data={"sample_data": "1"})
    assert plan.status_code == 200
    text = text_of(plan)
    assert "新建 实体「学员」" in text and "示例数据：" in text and "新建 11 个定义" not in text
    assert "student" not in platform.metadata.state().entities  # a dry run
    done = post_plan(admin_zh, plan, "/admin/bundles/templates/education", _confirm="1")
    assert done.status_code == 200 and "已安装 education" in text_of(done)
    assert 'data-testid="demo-users"' in done.get_data(as_text=True)  # their passwords, shown this once
    assert "student" in platform.metadata.state().entities
    assert admin_zh.get("/api/records/student?per_page=1").get_json()["total"] == 160
    gallery = text_of(admin_zh.get("/admin/bundles/"))
    assert "已安装 " in gallery and "education" in gallery


def test_apply_refuses_a_plan_made_before_the_configuration_changed(admin_zh, client, platform):
    plan = admin_zh.post("/admin/bundles/templates/b2b")
    client.post("/api/meta/entities", json={"key": "note", "label": "Note", "fields": [{"key": "t", "type": "text"}]})
    stale = post_plan(admin_zh, plan, "/admin/bundles/templates/b2b", _confirm="1")
    assert stale.status_code == 409 and "生成计划后配置已被修改" in text_of(stale)
    assert "company" not in platform.metadata.state().entities
    assert post_plan(admin_zh, stale, "/admin/bundles/templates/b2b", _confirm="1").status_code == 200
    assert "company" in platform.metadata.state().entities


def test_the_configuration_downloads_as_a_bundle_of_the_chosen_definitions(admin_zh, client, student):
    client.post("/api/records/student", json={"name": "小明"})
    r = admin_zh.get("/admin/bundles/export", query_string={"only": "entity:student", "sample_data": "1",
                                                            "name": "school", "version": "2.0.0"})
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    bundle = json.loads(r.get_data(as_text=True))
    assert bundle["name"] == "school" and [d["key"] for d in bundle["definitions"]["entity"]] == ["student"]
    assert bundle["sample_data"]["student"][0]["name"] == "小明"
    missing = admin_zh.get("/admin/bundles/export", query_string={"only": "entity:nope"})
    assert missing.status_code == 404 and "nope" in text_of(missing)


def test_an_uploaded_upgrade_shows_its_conflicts_each_settled_on_the_plan_page(admin_zh, client, platform):
    importer.run(platform, course_bundle("1.0.0", "Course"), actor="test")
    # the consultant's change here, and the bundle's own change of the same label
    client.patch("/api/meta/entities/course", json={"label": {"en": "Class", "zh": "课程"}})
    upload = course_bundle("1.1.0", "Lesson", max_length=80)
    plan = admin_zh.post("/admin/bundles/upload", data={"bundle": (io.BytesIO(json.dumps(upload).encode()), "b.json")},
                         content_type="multipart/form-data")
    assert plan.status_code == 200
    page = plan.get_data(as_text=True)
    assert page.count('data-testid="conflict"') == 1 and "label.en" in page and "Class" in page and "Lesson" in page
    unsettled = post_plan(admin_zh, plan, "/admin/bundles/upload", _confirm="1")
    assert unsettled.status_code == 409 and "有冲突未处理" in text_of(unsettled)
    assert platform.metadata.state().entities["course"].doc["label"]["en"] == "Class"
    applied = post_plan(admin_zh, unsettled, "/admin/bundles/upload", _confirm="1",
                        **{"resolve::entity:course:label.en": "keep-local"})
    assert applied.status_code == 200
    doc = platform.metadata.state().entities["course"].doc
    assert doc["label"]["en"] == "Class" and doc["fields"][0]["max_length"] == 80  # the rest of the upgrade came
    installed = text_of(admin_zh.get("/admin/bundles/"))
    assert "school" in installed and "1.1.0" in installed


def test_a_broken_upload_is_refused_with_a_message(admin_zh):
    r = admin_zh.post("/admin/bundles/upload", data={"bundle": (io.BytesIO(b"{nope"), "b.json")},
                      content_type="multipart/form-data")
    assert r.status_code == 400 and "not valid JSON" in text_of(r)


def test_resolutions_settle_conflicts_one_by_one_in_the_importer(platform):
    importer.run(platform, course_bundle("1.0.0", "Course"), actor="test")
    platform.metadata.update_definition("entity", "course", {"label": {"en": "Class", "zh": "班级"}}, actor="test")
    plan = importer.run(platform, course_bundle("1.1.0", "Lesson"), actor="test", dry_run=True,
                        resolutions={"entity:course:label.en": "take-incoming"})
    assert {c["path"]: c["resolution"] for c in plan["conflicts"]} == {"label.en": "take-incoming"}
    with pytest.raises(Exception):
        importer.run(platform, course_bundle("1.1.0", "Lesson"), actor="test", resolutions={"entity:course": "x"})
