"""The designer's language: the same choice as the screens at /app (``web.i18n.current_language``:
the page's switch, a cookie, else Accept-Language), one table of our own words, Flask-Babel for
Flask-Admin's.

Why a Python table and not gettext catalogues: the screens already keep their words this way
(``web/i18n.py``), a missing translation is one line next to its English, and nothing has to be
compiled — ``.mo`` files would need a build step that ``scripts/run.sh`` does not run, or binary
files committed beside their sources. Flask-Admin's own strings (its menus, buttons, list
views) come with compiled catalogues inside the flask-admin package; Flask-Babel picks them with
the locale chosen here.
"""
from __future__ import annotations

from flask import has_request_context
from flask_babel import Babel, LazyString

from crm_platform.web.i18n import current_language

#: The Babel locale of each language of the screens; Flask-Admin ships zh_Hans_CN.
BABEL_LOCALES = {"en": "en", "zh": "zh_Hans_CN"}

MESSAGES = {
    # chrome and menu
    "admin_name": {"en": "CRM designer", "zh": "客户管理 · 设计器"},
    "menu_home": {"en": "Home", "zh": "首页"},
    "menu_entities": {"en": "Entities", "zh": "实体"},
    "menu_taxonomies": {"en": "Taxonomies", "zh": "标签体系"},
    "menu_pipelines": {"en": "Pipelines", "zh": "阶段流程"},
    "menu_forms": {"en": "Forms", "zh": "表单"},
    "menu_history": {"en": "History", "zh": "历史"},
    "menu_records": {"en": "Records", "zh": "数据"},
    "back_to_app": {"en": "Back to the CRM", "zh": "返回客户管理"},
    "language": {"en": "中文", "zh": "English"},
    # home
    "home_intro": {"en": "Design the CRM without code: entities and their fields, tag taxonomies, stage pipelines. "
                         "Every change is shown as a plan before it is applied. Configuration revision {revision}.",
                   "zh": "无需编程即可设计客户管理系统：实体及其字段、标签体系、阶段流程。每次修改在应用之前都会先显示变更计划。"
                         "当前配置版本 {revision}。"},
    "home_entities": {"en": "Entities — browse and edit their records", "zh": "实体 — 浏览和编辑其数据"},
    "n_fields": {"en": "{n} fields", "zh": "{n} 个字段"},
    "design": {"en": "Design", "zh": "设计"},
    "new_entity": {"en": "New entity", "zh": "新建实体"},
    "no_entities": {"en": "No entities yet.", "zh": "还没有实体。"},
    "no_entities_first": {"en": "No entities yet: create the first one.", "zh": "还没有实体：请新建第一个。"},
    "history_and_restore": {"en": "History and restore", "zh": "历史与恢复"},
    # entity list and page
    "revision": {"en": "configuration revision {revision}", "zh": "配置版本 {revision}"},
    "col_key": {"en": "Key", "zh": "标识"},
    "col_name": {"en": "Name", "zh": "名称"},
    "col_fields": {"en": "Fields", "zh": "字段数"},
    "col_records": {"en": "Records", "zh": "记录数"},
    "col_order": {"en": "Order", "zh": "顺序"},
    "col_label": {"en": "Label", "zh": "标签"},
    "col_type": {"en": "Type", "zh": "类型"},
    "col_rules": {"en": "Rules", "zh": "规则"},
    "col_options": {"en": "Options", "zh": "选项"},
    "archived": {"en": "archived", "zh": "已归档"},
    "restore": {"en": "Restore", "zh": "恢复"},
    "restore_it": {"en": "Restore it", "zh": "恢复"},
    "archive": {"en": "Archive", "zh": "归档"},
    "archive_entity": {"en": "Archive entity", "zh": "归档实体"},
    "edit": {"en": "Edit", "zh": "编辑"},
    "rename": {"en": "Rename", "zh": "改标识"},
    "records": {"en": "Records", "zh": "数据"},
    "names_and_settings": {"en": "Names and settings", "zh": "名称与设置"},
    "table_of": {"en": "table {table}", "zh": "数据表 {table}"},
    "entity_archived": {"en": "This entity is archived: its table and rows are kept.",
                        "zh": "此实体已归档：数据表和其中的记录都保留着。"},
    "title_badge": {"en": "title", "zh": "标题"},
    "required": {"en": "required", "zh": "必填"},
    "unique": {"en": "unique", "zh": "唯一"},
    "no_fields": {"en": "No fields yet.", "zh": "还没有字段。"},
    "add_field_of_type": {"en": "Add a field of type", "zh": "添加字段，类型"},
    "add_field": {"en": "Add field", "zh": "添加字段"},
    "archived_fields": {"en": "Archived fields (columns and values kept)", "zh": "已归档的字段（列和数据都保留）"},
    # entity and field forms
    "entity_heading": {"en": "Entity {name}: names and settings", "zh": "实体「{name}」：名称与设置"},
    "new_field_heading": {"en": "New {type} field of {entity}", "zh": "为「{entity}」新增{type}字段"},
    "field_heading": {"en": "Field {field} of {entity}", "zh": "「{entity}」的字段「{field}」"},
    "f_entity_key": {"en": "Key (letters, digits, _; the table name) — proposed from the name",
                     "zh": "标识（字母、数字、下划线；即数据表名）— 根据名称自动生成，可修改"},
    "f_field_key": {"en": "Key (letters, digits, _) — proposed from the label, fixed once saved",
                    "zh": "标识（字母、数字、下划线）— 根据标签自动生成，保存前可修改，保存后固定"},
    "f_name": {"en": "Name", "zh": "名称"},
    "f_plural": {"en": "Plural", "zh": "复数名称"},
    "f_description": {"en": "Description", "zh": "说明"},
    "f_label": {"en": "Label", "zh": "标签"},
    "f_help": {"en": "Help", "zh": "帮助说明"},
    "f_title_field": {"en": "Title field (names a record in lists and references)", "zh": "标题字段（在列表和引用中代表一条记录）"},
    "f_require_reason": {"en": "Changes and deletions must give a reason", "zh": "修改和删除必须填写原因"},
    "f_new_key": {"en": "New key", "zh": "新标识"},
    "f_required": {"en": "Required", "zh": "必填"},
    "f_unique": {"en": "Unique", "zh": "唯一"},
    "f_indexed": {"en": "Indexed (faster filters and sorting)", "zh": "建索引（筛选和排序更快）"},
    "f_personal": {"en": "Personal data (exported and erased with the person; e-mail and phone always are)",
                   "zh": "个人数据（随本人导出和删除；邮箱和电话始终是）"},
    "f_default": {"en": "Default value", "zh": "默认值"},
    "f_type": {"en": "Type", "zh": "类型"},
    "f_choices": {"en": "Choices", "zh": "选项"},
    "f_target": {"en": "Target entity", "zh": "引用的实体"},
    "f_taxonomy": {"en": "Taxonomy", "zh": "标签体系"},
    "f_choice_key": {"en": "Key", "zh": "标识"},
    "f_colour": {"en": "Colour", "zh": "颜色"},
    "opt_min": {"en": "Min", "zh": "最小值"},
    "opt_max": {"en": "Max", "zh": "最大值"},
    "opt_max_length": {"en": "Max length", "zh": "最大长度"},
    "opt_scale": {"en": "Scale (digits after the point)", "zh": "小数位数"},
    "opt_multiple": {"en": "Multiple", "zh": "可多选"},
    "opt_on_delete": {"en": "On delete of the target", "zh": "被引用记录删除时"},
    "opt_cascade": {"en": "delete these records too", "zh": "一并删除这些记录"},
    "opt_restrict": {"en": "refuse the delete", "zh": "拒绝删除"},
    "opt_set_null": {"en": "clear the reference", "zh": "清空引用"},
    "none_yet": {"en": "(none yet)", "zh": "（暂无）"},
    "none": {"en": "(none)", "zh": "（无）"},
    "type_default": {"en": "(default)", "zh": "（默认）"},
    "propose_key_hint": {"en": "Type the label first: the key is proposed from it.",
                         "zh": "先填写标签，系统会据此生成标识。"},
    "show_type_options": {"en": "Show options of this type", "zh": "显示此类型的选项"},
    "safe_conversions": {"en": "Only conversions that keep every value are offered.", "zh": "只提供不会丢失数据的类型转换。"},
    "options_of_type": {"en": "Options of a {type} field", "zh": "{type}字段的选项"},
    "stage_field_note": {"en": "A stage field takes its stages from the pipeline that binds it (Pipelines).",
                         "zh": "阶段字段的各个阶段来自绑定它的阶段流程（见“阶段流程”）。"},
    "rename_heading": {"en": "Rename field {field} of {entity}", "zh": "修改「{entity}」字段「{field}」的标识"},
    "rename_note": {"en": "The column is renamed and every value kept; API clients must use the new key.",
                    "zh": "数据列改名，所有数据保留；通过接口访问的程序需要改用新标识。"},
    "add_row": {"en": "+ Add a row", "zh": "+ 添加一行"},
    "preview": {"en": "Preview the change", "zh": "预览变更"},
    "cancel": {"en": "Cancel", "zh": "取消"},
    "back": {"en": "Back", "zh": "返回"},
    "next": {"en": "Next", "zh": "下一步"},
    # plan and refusals
    "plan": {"en": "Plan", "zh": "变更计划"},
    "plan_nothing_yet": {"en": "Nothing has changed yet. Apply runs exactly this plan in one transaction.",
                         "zh": "目前尚未做任何更改。点击“应用”将在一个事务中完整执行此计划。"},
    "apply": {"en": "Apply", "zh": "应用"},
    "change": {"en": "Change", "zh": "修改"},
    "technical": {"en": "Technical details (JSON)", "zh": "技术细节（JSON）"},
    "refused": {"en": "Refused — nothing was changed:", "zh": "已拒绝，未做任何更改："},
    "nothing_changed": {"en": "Nothing was changed. Please fix:", "zh": "未做任何更改。请修改："},
    "applied": {"en": "Applied: {summary}", "zh": "已应用：{summary}"},
    "stale_plan": {"en": "The configuration was changed by someone else after this plan was shown (revision {expected}, "
                         "now {revision}): nothing was applied. The plan below is what Apply would do now.",
                   "zh": "配置在预览之后已被他人修改（版本 {expected}，现为 {revision}）：未做任何更改。"
                         "下面是按当前配置重新生成的计划，确认无误后请再次应用。"},
    "rows_sample": {"en": "{rows} records, e.g. ids {ids}", "zh": "{rows} 条记录，例如编号 {ids}"},
    "rows_only": {"en": "{rows} records", "zh": "{rows} 条记录"},
    # titles of plan pages
    "t_create_entity": {"en": "Create entity {name}", "zh": "新建实体「{name}」"},
    "t_change_entity": {"en": "Change entity {name}", "zh": "修改实体「{name}」"},
    "t_archive_entity": {"en": "Archive entity {name}", "zh": "归档实体「{name}」"},
    "t_restore_entity": {"en": "Restore entity {name}", "zh": "恢复实体「{name}」"},
    "t_move_field": {"en": "Move field {field}", "zh": "移动字段「{field}」"},
    "t_add_field": {"en": "Add field {field} to {entity}", "zh": "为「{entity}」添加字段「{field}」"},
    "t_change_field": {"en": "Change field {field} of {entity}", "zh": "修改「{entity}」的字段「{field}」"},
    "t_rename_field": {"en": "Rename field {field} of {entity} to {new}", "zh": "把「{entity}」字段「{field}」的标识改为 {new}"},
    "t_archive_field": {"en": "Archive field {field} of {entity}", "zh": "归档「{entity}」的字段「{field}」"},
    "t_restore_field": {"en": "Restore field {field} of {entity}", "zh": "恢复「{entity}」的字段「{field}」"},
    "t_create_def": {"en": "Create {kind} {name}", "zh": "新建{kind}「{name}」"},
    "t_change_def": {"en": "Change {kind} {name}", "zh": "修改{kind}「{name}」"},
    "t_archive_def": {"en": "Archive {kind} {name}", "zh": "归档{kind}「{name}」"},
    "t_restore_def": {"en": "Restore {kind} {name}", "zh": "恢复{kind}「{name}」"},
    # history
    "archived_restorable": {"en": "Archived — restorable with their data", "zh": "已归档 — 可连同数据一起恢复"},
    "revisions": {"en": "Revisions", "zh": "修订历史"},
    "by_at": {"en": "by {actor}, {at} UTC", "zh": "{actor}，{at}（UTC）"},
    "no_changes": {"en": "No changes yet.", "zh": "还没有任何修改。"},
    "older": {"en": "Older revisions", "zh": "更早的修订"},
    # other designers' lists
    "new_taxonomy": {"en": "New taxonomy", "zh": "新建标签体系"},
    "new_pipeline": {"en": "New pipeline", "zh": "新建阶段流程"},
    "new_form": {"en": "New form", "zh": "新建表单"},
    "edit_tags": {"en": "Edit tags", "zh": "编辑标签"},
    "edit_stages": {"en": "Edit stages", "zh": "编辑阶段"},
    "edit_layout": {"en": "Edit layout", "zh": "编辑布局"},
    "no_taxonomies": {"en": "No taxonomies yet.", "zh": "还没有标签体系。"},
    "no_pipelines": {"en": "No pipelines yet.", "zh": "还没有阶段流程。"},
    "no_forms": {"en": "No forms yet: every entity has a default form with all its fields.",
                 "zh": "还没有表单：每个实体都有一个包含全部字段的默认表单。"},
    "rule_on": {"en": "rule on {entity}: {n} condition(s)", "zh": "规则（{entity}）：{n} 个条件"},
    "default_badge": {"en": "default", "zh": "默认"},
    "public_badge": {"en": "public", "zh": "公开"},
    # the taxonomy, pipeline and form designers
    "tags_note": {"en": "— a parent makes a tree; a rule applies the tag by itself (blank rows are ignored)",
                  "zh": "— 设置上级标签可形成层级；设置规则后系统会自动打标签（空行会被忽略）"},
    "rule": {"en": "Rule", "zh": "规则"},
    "add_condition": {"en": "+ Add a condition", "zh": "+ 添加条件"},
    "add_tag": {"en": "+ Add a tag", "zh": "+ 添加标签"},
    "add_stage": {"en": "+ Add a stage", "zh": "+ 添加阶段"},
    "pipeline_entity_first": {"en": "First choose the entity whose records move through the stages (it needs a field "
                                    "of type Stage).", "zh": "请先选择要按阶段推进的实体（它需要一个“阶段”类型的字段）。"},
    "stages_note": {"en": "— ordered by \"Order\"; blank rows are ignored; a stage is archived, never dropped",
                    "zh": "— 按“顺序”排列；空行会被忽略；阶段只会归档，不会删除"},
    "follow_up": {"en": "Follow-up on entry", "zh": "进入阶段后的跟进"},
    "form_entity_first": {"en": "First choose the entity whose records this form fills in.",
                          "zh": "请先选择此表单要填写的实体。"},
    "sections_title": {"en": "Sections (numbered from 1, in this order)", "zh": "分区（从 1 开始编号，按此顺序）"},
    "form_fields_note": {"en": "— put each in a section and give its order; overrides apply to this form only",
                         "zh": "— 为每个字段选择分区和顺序；此处的修改只对本表单生效"},
    "placeholder": {"en": "Placeholder", "zh": "占位提示"},
    "conditions_title": {"en": "Conditions: a field is shown only / required when another field has a value",
                         "zh": "条件：当另一个字段取某个值时，某字段才显示 / 才必填"},
    "op_in": {"en": "is one of (a, b)", "zh": "属于 (a, b) 之一"},
    "op_is_empty": {"en": "is empty", "zh": "为空"},
    "op_is_not_empty": {"en": "is not empty", "zh": "不为空"},
    "op_within_days": {"en": "within the last N days", "zh": "最近 N 天内"},
    "op_older_than_days": {"en": "more than N days ago (or never)", "zh": "超过 N 天（或从未）"},
    "cat_open": {"en": "open", "zh": "进行中"},
    "cat_won": {"en": "won", "zh": "赢单"},
    "cat_lost": {"en": "lost", "zh": "输单"},
    "stage_requires": {"en": "requires {fields}", "zh": "须填写 {fields}"},
    "stage_next": {"en": "next: {stages}", "zh": "下一阶段：{stages}"},
    "stage_follow_up": {"en": "follow-up in {entity}", "zh": "跟进记录建在 {entity}"},
    "nowhere": {"en": "none", "zh": "无"},
    "cond_show": {"en": "{field} shown only when {when} {op} {value}", "zh": "当 {when} {op} {value} 时才显示 {field}"},
    "cond_require": {"en": "{field} required when {when} {op} {value}", "zh": "当 {when} {op} {value} 时 {field} 必填"},
    "section_n": {"en": "Section {n}", "zh": "分区 {n}"},
    "not_on_form": {"en": "— not on this form", "zh": "— 不在此表单上"},
    "d_top": {"en": "(top)", "zh": "（顶级）"},
    "d_on_related_records_of": {"en": "On related records of", "zh": "根据关联记录"},
    "d_this_record": {"en": "(this record)", "zh": "（本记录）"},
    "d_whose_reference_field": {"en": "…whose reference field", "zh": "…其引用字段"},
    "d_aggregate": {"en": "Aggregate", "zh": "汇总方式"},
    "d_how_many": {"en": "how many", "zh": "数量"},
    "d_latest_value": {"en": "latest value", "zh": "最新值"},
    "d_field": {"en": "Field", "zh": "字段"},
    "d_operator": {"en": "Operator", "zh": "运算符"},
    "d_value": {"en": "Value", "zh": "值"},
    "d_key": {"en": "Key", "zh": "标识"},
    "d_english": {"en": "English", "zh": "English"},
    "d_zh": {"en": "中文", "zh": "中文"},
    "d_parent": {"en": "Parent", "zh": "上级标签"},
    "d_colour": {"en": "Colour", "zh": "颜色"},
    "d_rule_applies_to": {"en": "Rule applies to", "zh": "规则适用于"},
    "d_set_by_hand": {"en": "(set by hand)", "zh": "（手动设置）"},
    "d_name_english": {"en": "Name (English)", "zh": "名称 (English)"},
    "d_name": {"en": "Name (中文)", "zh": "名称 (中文)"},
    "d_tags": {"en": "Tags 标签", "zh": "标签"},
    "d_order": {"en": "Order", "zh": "顺序"},
    "d_probability": {"en": "Probability %", "zh": "成交概率 %"},
    "d_category": {"en": "Category", "zh": "类别"},
    "d_required_to_enter": {"en": "Required to enter", "zh": "进入前必填"},
    "d_any_stage_may_follow": {"en": "Any stage may follow", "zh": "可进入任意阶段"},
    "d_or_only_these": {"en": "…or only these", "zh": "…或只能进入这些阶段"},
    "d_follow_up_record_in": {"en": "Follow-up record in", "zh": "跟进记录建在"},
    "d_follow_up_values_one_per_line_field_valu": {"en": "Follow-up values, one per line: field = value ({field} of the moved record)", "zh": "跟进记录的值，每行一个：字段 = 值（{field} 表示被移动记录的字段）"},
    "d_due_in_days": {"en": "Due in days", "zh": "几天后到期"},
    "d_due_date_field": {"en": "Due date field", "zh": "到期日字段"},
    "d_assign_to_the_record_s_owner": {"en": "Assign to the record's owner", "zh": "分配给记录负责人"},
    "d_link_field_reference_to_this_record": {"en": "Link field (reference to this record)", "zh": "关联字段（引用此记录）"},
    "d_archived": {"en": "Archived", "zh": "已归档"},
    "d_move_its_records_to": {"en": "Move its records to", "zh": "其中的记录移到"},
    "d_enter_roles": {"en": "Only these roles may move records in", "zh": "仅这些角色可将记录移入"},
    "d_approval_role": {"en": "Moves in need approval by role", "zh": "移入需以下角色审批"},
    "d_approval_field": {"en": "…or by the user in field (owner_id or a whole-number field)",
                         "zh": "…或由字段中的用户审批（owner_id 或整数字段）"},
    "d_approval_when": {"en": "Approval only when (rule conditions as JSON, e.g. [{\"field\": \"discount\", \"op\": \"gt\", \"value\": 20}])",
                        "zh": "仅在满足条件时审批（JSON 规则条件，例如 [{\"field\": \"discount\", \"op\": \"gt\", \"value\": 20}]）"},
    "roles_and_approval": {"en": "Roles and approval", "zh": "角色与审批"},
    "d_entity": {"en": "Entity", "zh": "实体"},
    "d_stage_field": {"en": "Stage field", "zh": "阶段字段"},
    "d_amount_field_summed_in_the_funnel": {"en": "Amount field (summed in the funnel)", "zh": "金额字段（在漏斗中汇总）"},
    "d_stages": {"en": "Stages 阶段", "zh": "阶段"},
    "d_none": {"en": "(none)", "zh": "（无）"},
    "d_section_title_english": {"en": "Section title (English)", "zh": "分区标题 (English)"},
    "d_section_title": {"en": "Section title (中文)", "zh": "分区标题 (中文)"},
    "d_section": {"en": "Section", "zh": "分区"},
    "d_label_english": {"en": "Label (English)", "zh": "标签 (English)"},
    "d_label": {"en": "Label (中文)", "zh": "标签 (中文)"},
    "d_help_english": {"en": "Help (English)", "zh": "帮助说明 (English)"},
    "d_help": {"en": "Help (中文)", "zh": "帮助说明 (中文)"},
    "d_placeholder_english": {"en": "Placeholder (English)", "zh": "占位提示 (English)"},
    "d_placeholder": {"en": "Placeholder (中文)", "zh": "占位提示 (中文)"},
    "d_read_only": {"en": "Read-only", "zh": "只读"},
    "d_hidden": {"en": "Hidden", "zh": "隐藏"},
    "d_effect": {"en": "Effect", "zh": "效果"},
    "d_is_shown_only": {"en": "is shown only", "zh": "才显示"},
    "d_is_required": {"en": "is required", "zh": "才必填"},
    "d_when": {"en": "when", "zh": "条件字段"},
    "d_is": {"en": "is", "zh": "条件"},
    "d_equal_to": {"en": "equal to", "zh": "等于"},
    "d_one_of_a_b": {"en": "one of (a, b)", "zh": "属于 (a, b) 之一"},
    "d_the_form_of_this_entity_s_own_new_and_ed": {"en": "The form of this entity's own new and edit screens", "zh": "作为此实体新增和编辑页面的表单"},
    "d_public_anyone_may_fill_it_in_at_f_slug_w": {"en": "Public: anyone may fill it in at /f/<slug>, without signing in", "zh": "公开：任何人无需登录即可在 /f/<slug> 填写"},
    "d_slug_public_address": {"en": "Slug (public address)", "zh": "访问地址（公开）"},
    "d_submit_button_english": {"en": "Submit button (English)", "zh": "提交按钮 (English)"},
    "d_submit_button": {"en": "Submit button (中文)", "zh": "提交按钮 (中文)"},
    "d_thank_you_message_english": {"en": "Thank-you message (English)", "zh": "提交成功提示 (English)"},
    "d_thank_you_message": {"en": "Thank-you message (中文)", "zh": "提交成功提示 (中文)"},
}


def t(key: str, **values) -> str:
    """Our text ``key`` in the admin's language (English outside a request)."""
    lang = language()
    entry = MESSAGES[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def lazy(key: str) -> LazyString:
    """``t(key)`` looked up when shown: menu names and form labels are made once, read per request."""
    return LazyString(t, key)


def language() -> str:
    return current_language() if has_request_context() else "en"


def kind_name(kind: str) -> str:
    """A definition kind as the admin reads it (taxonomy → 标签体系)."""
    return t({"entity": "menu_entities", "taxonomy": "menu_taxonomies", "pipeline": "menu_pipelines",
              "form": "menu_forms"}.get(kind, "menu_entities")) if language() == "zh" else kind


def init_babel(app) -> None:
    """Flask-Admin's own strings in the language the screens use."""
    Babel(app, locale_selector=lambda: BABEL_LOCALES[language()])
