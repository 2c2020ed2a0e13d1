"""The admin designer for a business owner who reads Chinese (issue 20, items 1-3), on SQLite and
PostgreSQL: the same language choice as /app, Flask-Admin's own words translated, keys proposed
from labels, plans and history as sentences naming labels, refusals by label, 管理 in the app menu."""
from __future__ import annotations

import re

import pytest

from crm_platform.metadata.describe import describe_plan
from crm_platform.metadata.keys import key_problem, propose_key
from test_admin_apply_previewed_plan import STALE_ZH, hidden_revision, press_apply
from test_admin_designer import sign_in, text_of


@pytest.fixture
def admin_zh(app):
    client = sign_in(app.test_client())
    client.set_cookie("crm_lang", "zh")
    return client


def add_intent_level(client, **extra):
    """意向等级 typed by its Chinese label only: no key, choices 高/中/低, default 中."""
    data = {"type": "select", "label_zh": "意向等级", "choices-0-key": "high", "choices-0-label_zh": "高",
            "choices-1-key": "medium", "choices-1-label_zh": "中", "choices-2-key": "low", "choices-2-label_zh": "低",
            "default": "medium", **extra}
    return client.post("/admin/entities/student/fields/new?type=select", data=data)


# ---- keys made from labels ---------------------------------------------------------------------

@pytest.mark.parametrize("label, key", [
    ("意向等级", "yi_xiang_deng_ji"), ("学员年龄段", "xue_yuan_nian_ling_duan"), ("Next follow-up", "next_follow_up"),
    ("nextFollowUp", "next_follow_up"), ("客户ID", "ke_hu_id"), ("Café", "cafe"), ("2024 budget", "f_2024_budget"),
    ("Order", "order_field"), ("id", "id_field"), ("", "field"), ("!!!", "field"),
])
def test_a_key_is_proposed_from_a_label(label, key):
    assert propose_key(label) == key
    assert key_problem(key) is None


def test_a_proposed_key_is_unique_within_the_entity_and_fits_the_key_rules():
    assert propose_key("意向等级", {"yi_xiang_deng_ji"}) == "yi_xiang_deng_ji_2"
    assert propose_key("意向等级", {"yi_xiang_deng_ji", "yi_xiang_deng_ji_2"}) == "yi_xiang_deng_ji_3"
    long = propose_key("非常" * 40)
    assert len(long) <= 63 and key_problem(long) is None
    entity = propose_key("客户" * 30, entity=True)
    assert len(entity) <= 40 and key_problem(entity, entity=True) is None


def test_the_admin_asks_for_a_key_proposal_and_gets_one_unique_in_the_entity(admin_zh, student):
    r = admin_zh.get("/admin/entities/propose-key", query_string={"label": "意向等级", "entity": "student"})
    assert r.status_code == 200 and r.get_json() == {"key": "yi_xiang_deng_ji"}
    r = admin_zh.get("/admin/entities/propose-key", query_string={"label": "Course", "entity": "student"})
    assert r.get_json() == {"key": "course_2"}  # course is taken by a field of student
    r = admin_zh.get("/admin/entities/propose-key", query_string={"label": "学员"})
    assert r.get_json() == {"key": "xue_yuan"}
    assert admin_zh.get("/admin/entities/propose-key?label=x&entity=nope").status_code == 404


def test_a_field_added_by_its_chinese_label_alone_gets_the_pinyin_key(admin_zh, platform, student):
    preview = add_intent_level(admin_zh)
    assert preview.status_code == 200
    r = press_apply(admin_zh, preview)
    assert r.status_code == 302
    field = fields_of(platform)["yi_xiang_deng_ji"]
    assert field["label"] == {"zh": "意向等级"} and field["default"] == "medium"


def test_a_typed_key_wins_over_the_proposal_and_is_fixed_once_saved(admin_zh, platform, student):
    assert press_apply(admin_zh, add_intent_level(admin_zh, key="intent")).status_code == 302
    assert "intent" in fields_of(platform)
    page = admin_zh.get("/admin/entities/student/fields/intent/edit").get_data(as_text=True)
    assert re.search(r'<input[^>]*id="key"[^>]*readonly', page)  # renamed only by the explicit action


# ---- the designer in Chinese -------------------------------------------------------------------

def test_the_designer_speaks_chinese_when_the_screens_do(admin_zh, student):
    page = text_of(admin_zh.get("/admin/"))
    for words in ("客户管理 · 设计器", "首页", "实体", "标签体系", "阶段流程", "历史", "返回客户管理", "新建实体"):
        assert words in page, words
    assert "Taxonomies" not in page and "New entity" not in page
    page = text_of(admin_zh.get("/admin/entities/student/"))
    assert "学员" in page and "添加字段" in page and "改标识" in page
    page = text_of(admin_zh.get("/admin/entities/student/fields/new?type=select"))
    assert "标签 (中文)" in page and "根据标签自动生成" in page and "预览变更" in page


def test_the_taxonomy_pipeline_and_form_designers_speak_chinese_too(admin_zh, client, student):
    page = text_of(admin_zh.get("/admin/taxonomies/new"))
    for words in ("新建标签体系", "规则适用于", "属于 (a, b) 之一", "+ 添加标签", "学员 (student)"):
        assert words in page, words
    assert "Rule applies to" not in page and "is one of" not in page
    page = text_of(admin_zh.get("/admin/forms/new?entity=student"))
    for words in ("新建表单", "分区 1", "— 不在此表单上", "作为此实体新增和编辑页面的表单"):
        assert words in page, words
    assert "Section 1" not in page
    page = text_of(admin_zh.get("/admin/pipelines/new"))
    assert "请先选择要按阶段推进的实体" in page and "学员 (student)" in page


def test_accept_language_alone_chooses_chinese_and_the_cookie_overrides_it(app, student):
    client = sign_in(app.test_client())
    page = text_of(client.get("/admin/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}))
    assert "新建实体" in page
    client.set_cookie("crm_lang", "en")
    page = text_of(client.get("/admin/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}))
    assert "New entity" in page and "新建实体" not in page


def test_flask_admins_own_words_are_translated(admin_zh, client, student):
    assert client.post("/api/records/student", json={"name": "王芳"}).status_code == 201
    page = text_of(admin_zh.get("/admin/records/student/"))
    assert "王芳" in page
    # Flask-Admin's list chrome from its zh_Hans_CN catalogue (列表 = List, 创建 = Create, 添加筛选器 = Add Filter).
    assert "列表" in page and "创建" in page and "添加筛选器" in page
    assert " List " not in page and "Add Filter" not in page


def test_the_language_switch_of_the_designer_is_the_screens_switch(admin_zh):
    page = admin_zh.get("/admin/").get_data(as_text=True)
    link = re.search(r'href="([^"]*/lang/en\?next=/admin[^"]*)"', page)
    assert link, "the designer links to the screens' language switch"
    r = admin_zh.get(link.group(1).replace("&amp;", "&"))
    assert r.status_code == 302 and r.headers["Location"].startswith("/admin")
    assert "New entity" in text_of(admin_zh.get("/admin/"))


# ---- plans and history as sentences --------------------------------------------------------------

def test_the_plan_reads_as_a_sentence_with_labels_and_the_json_is_one_click_away(admin_zh, client, student):
    for n in range(3):
        assert client.post("/api/records/student", json={"name": f"S{n}"}).status_code == 201
    r = add_intent_level(admin_zh, required="y")
    assert r.status_code == 200
    sentences = re.search(r'data-testid="plan-sentences">(.*?)</ul>', r.get_data(as_text=True), re.S).group(1)
    assert "为「学员」添加字段「意向等级」（单选）；现有的 3 条记录取默认值「中」" in text_of_html(sentences)
    for engineering in ("add_column", "ent_student", "DDL"):
        assert engineering not in text_of_html(sentences)
    page = r.get_data(as_text=True)
    assert re.search(r'<details[^>]*data-testid="plan-json"', page) and '"op": "add_column"' in text_of(r)


def test_a_refusal_names_the_field_by_its_label_in_chinese(admin_zh, client, platform, student):
    for n in range(12):
        assert client.post("/api/records/student", json={"name": f"S{n}"}).status_code == 201
    before = platform.metadata.state().entities["student"].doc
    r = admin_zh.post("/admin/entities/student/fields/course/edit",
                      data={"key": "course", "type": "select", "label_en": "Course", "label_zh": "课程类型", "required": "y",
                            "choices-0-key": "math", "choices-0-label_en": "Math",
                            "choices-1-key": "art", "choices-1-label_en": "Art", "choices-1-label_zh": "美术"})
    assert r.status_code == 409
    page = text_of(r)
    assert "「课程类型（必填）」：现有 12 条记录没有填写此项" in page and "已拒绝" in page
    assert "'course'" not in page.split("技术细节")[0]  # no key in what she reads
    assert platform.metadata.state().entities["student"].doc == before


def test_a_new_required_field_without_a_default_is_refused_in_chinese(admin_zh, client, platform, student):
    assert client.post("/api/records/student", json={"name": "S"}).status_code == 201
    r = add_intent_level(admin_zh, required="y", default="")
    assert r.status_code == 409
    assert "「意向等级（必填）」：现有 1 条记录将没有值" in text_of(r)
    assert "yi_xiang_deng_ji" not in fields_of(platform)


def test_a_stale_apply_is_explained_in_chinese(admin_zh, client, platform, student):
    preview = add_intent_level(admin_zh)
    assert client.post("/api/meta/entities/student/fields", json={"key": "nickname", "type": "text"}).status_code == 201
    r = press_apply(admin_zh, preview)
    assert r.status_code == 409 and STALE_ZH in text_of(r)
    assert hidden_revision(r) == platform.metadata.state().revision


def test_history_shows_each_revision_as_sentences_with_the_raw_plan_one_click_away(admin_zh, student):
    assert press_apply(admin_zh, add_intent_level(admin_zh)).status_code == 302
    relabel = admin_zh.post("/admin/entities/student/fields/yi_xiang_deng_ji/edit",
                            data={"key": "yi_xiang_deng_ji", "type": "select", "label_zh": "意向度",
                                  "choices-0-key": "high", "choices-0-label_zh": "高",
                                  "choices-1-key": "medium", "choices-1-label_zh": "中",
                                  "choices-2-key": "low", "choices-2-label_zh": "低", "default": "medium"})
    assert press_apply(admin_zh, relabel).status_code == 302
    r = admin_zh.get("/admin/history/")
    page = r.get_data(as_text=True)
    sentences = [text_of_html(s) for s in re.findall(r'data-testid="revision-sentences">(.*?)</ul>', page, re.S)]
    assert "把「学员」的字段「意向等级」改名为「意向度」" in sentences[0]
    # each revision with the labels it had then
    assert "为「学员」添加字段「意向等级」（单选）；现有记录此项留空，新记录取默认值「中」" in sentences[1]
    assert "新建实体「学员」，含 5 个字段" in sentences[-1]
    assert re.search(r'<details data-testid="revision-json">', page) and "技术细节" in page


def test_plan_sentences_in_english_name_labels_and_counts():
    plan = {"kind": "entity", "key": "student", "operations": [
        {"op": "add_column", "entity": "student", "field": "intent", "rows": 1204, "table": "ent_student"},
        {"op": "archive_column", "entity": "student", "field": "age", "rows": 1204},
        {"op": "reorder_fields", "entity": "student"}]}
    after = {"key": "student", "label": {"en": "Student", "zh": "学员"}, "fields": [
        {"key": "intent", "type": "select", "label": {"en": "Intent level", "zh": "意向等级"}, "required": True,
         "default": "m", "choices": [{"key": "m", "label": {"en": "Medium", "zh": "中"}}]}],
        "archived_fields": [{"key": "age", "type": "integer", "label": "Age"}]}
    assert describe_plan(plan, "en", after=after) == [
        "adds the field Intent level (Choice) to Student; 1,204 existing records get the default Medium",
        "archives the field Age of Student; its values in 1,204 records are kept and can be restored",
        "changes the order of the fields of Student"]
    assert describe_plan(plan, "zh", after=after)[0] == "为「学员」添加字段「意向等级」（单选）；现有的 1,204 条记录取默认值「中」"


# ---- the way in and out ------------------------------------------------------------------------

def test_administrators_find_the_admin_in_the_app_menu_and_others_do_not(app, platform, student):
    admin = sign_in(app.test_client())
    admin.set_cookie("crm_lang", "zh")
    page = admin.get("/app/student").get_data(as_text=True)
    link = re.search(r'<a href="(/admin/?)" data-testid="menu-admin">([^<]+)</a>', page)
    assert link and link.group(2) == "管理"
    assert admin.get(link.group(1)).status_code in (200, 308)
    platform.users.create("clerk", "clerk-password", is_admin=False)
    clerk = sign_in(app.test_client(), "clerk", "clerk-password")
    assert 'data-testid="menu-admin"' not in clerk.get("/app").get_data(as_text=True)


def fields_of(platform) -> dict:
    return {f["key"]: f for f in platform.metadata.state().entities["student"].fields}


def text_of_html(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def test_archive_and_restore_from_history_speak_of_labels(admin_zh, platform, student):
    r = admin_zh.post("/admin/entities/student/fields/course/archive")
    page = text_of(r)
    assert r.status_code == 200 and "归档「学员」的字段「课程类型」" in page
    assert admin_zh.post("/admin/entities/student/fields/course/archive", data={"_confirm": "1"}).status_code == 302
    history = text_of(admin_zh.get("/admin/history/"))
    assert "已归档 — 可连同数据一起恢复" in history and "学员: 课程类型" in history
    r = admin_zh.post("/admin/history/restore", data={"kind": "field", "key": "student", "field": "course"})
    assert r.status_code == 200 and "恢复「学员」的字段「课程类型」" in text_of(r)
    assert "恢复「学员」的字段「课程类型」，" in text_of(r)  # the plan's sentence, with the records it brings back
