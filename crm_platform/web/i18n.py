"""The screens' language: Chinese or English, from the page's switch (a cookie) or Accept-Language.

Labels of definitions carry their own languages (``text_of``); the words of the screens themselves
are here, one entry per message, so a missing translation is one line to add.
"""
from __future__ import annotations

from flask import g, request

from ..i18n import EVERY, in_every_language, text_of

LANGUAGES = ("en", "zh")
COOKIE = "crm_lang"

MESSAGES = {
    "app": {"en": "CRM", "zh": "客户管理"},
    "menu": {"en": "Menu", "zh": "菜单"},
    "sign_out": {"en": "Sign out", "zh": "退出"},
    "two_step": {"en": "Two-step sign-in", "zh": "两步验证"},
    "admin": {"en": "Admin", "zh": "管理"},
    "notifications": {"en": "Notifications", "zh": "通知"},
    "notifications_unread": {"en": "Notifications, {n} unread", "zh": "通知，{n} 条未读"},
    "no_notifications": {"en": "No notifications yet.", "zh": "暂无通知。"},
    "mark_all_read": {"en": "Mark all read", "zh": "全部标为已读"},
    "open": {"en": "Open", "zh": "查看"},
    "mark_read": {"en": "Mark read", "zh": "标为已读"},
    "new": {"en": "New", "zh": "新增"},
    "edit": {"en": "Edit", "zh": "编辑"},
    "delete": {"en": "Delete…", "zh": "删除…"},
    "delete_confirm": {"en": "Move to the recycle bin", "zh": "移入回收站"},
    "deleted": {"en": "“{title}” was moved to the recycle bin.", "zh": "“{title}”已移入回收站。"},
    "recycle_bin": {"en": "Recycle bin", "zh": "回收站"},
    "changes": {"en": "Changes", "zh": "变更记录"},
    "all_changes": {"en": "Show all {n} changes", "zh": "显示全部 {n} 条变更"},
    "action_create": {"en": "created", "zh": "创建"},
    "action_update": {"en": "changed", "zh": "修改"},
    "action_delete": {"en": "moved to the recycle bin", "zh": "移入回收站"},
    "action_restore": {"en": "restored", "zh": "恢复"},
    "action_stage": {"en": "moved the stage", "zh": "变更阶段"},
    "action_personal_export": {"en": "exported the personal data", "zh": "导出了个人数据"},
    "action_erase": {"en": "erased the personal data", "zh": "删除了个人数据"},
    "personal_data": {"en": "Personal data", "zh": "个人数据"},
    "personal_export": {"en": "Export personal data (JSON)", "zh": "导出个人数据（JSON）"},
    "personal_erase": {"en": "Erase personal data", "zh": "删除个人数据"},
    "personal_erase_help": {"en": "Blanks the personal fields (flagged personal, e-mail, phone) of this record and "
                                  "of the records that refer to it, and removes their values from the change "
                                  "history. It cannot be undone.",
                            "zh": "清空此记录及引用它的记录中的个人字段（标记为个人数据的字段、邮箱、电话），并从变更"
                                  "历史中移除这些值。此操作无法撤销。"},
    "personal_erase_confirm": {"en": "Erase for good", "zh": "永久删除"},
    "erase_reason_required": {"en": "say why the personal data is erased", "zh": "请说明删除个人数据的原因"},
    "erased": {"en": "Personal data erased from {n} records.", "zh": "已删除 {n} 条记录中的个人数据。"},
    "erased_value": {"en": "[erased]", "zh": "[已删除]"},
    "personal_admin_only": {"en": "only administrators export or erase personal data",
                            "zh": "只有管理员可以导出或删除个人数据"},
    "action_approval": {"en": "approval step", "zh": "审批"},
    # Reasons the system writes in the audit trail (runtime/audit.Reason): "reason_" + its key.
    "reason_approval_requested": {"en": "Approval #{approval} requested: move to “{stage}” of “{pipeline}”",
                                  "zh": "提交审批 #{approval}：申请进入「{pipeline}」的「{stage}」阶段"},
    "reason_approval_approved": {"en": "Approval #{approval} approved: moved to “{stage}” of “{pipeline}”",
                                 "zh": "审批 #{approval} 已通过：进入「{pipeline}」的「{stage}」阶段"},
    "reason_approval_rejected": {"en": "Approval #{approval} rejected: stays in “{from_stage}” of “{pipeline}”",
                                 "zh": "审批 #{approval} 已驳回：仍在「{pipeline}」的「{from_stage}」阶段"},
    "reason_approval_withdrawn": {"en": "Approval #{approval} withdrawn: stays in “{from_stage}” of “{pipeline}”",
                                  "zh": "审批 #{approval} 已撤回：仍在「{pipeline}」的「{from_stage}」阶段"},
    # The same steps taken by an administrator for someone else (reason_args "admin": their user name).
    "reason_approval_approved_admin": {"en": "Approval #{approval} approved by the administrator {admin}: moved to "
                                             "“{stage}” of “{pipeline}”",
                                       "zh": "审批 #{approval} 已由管理员 {admin} 代为通过：进入「{pipeline}」的「{stage}」阶段"},
    "reason_approval_rejected_admin": {"en": "Approval #{approval} rejected by the administrator {admin}: stays in "
                                             "“{from_stage}” of “{pipeline}”",
                                       "zh": "审批 #{approval} 已由管理员 {admin} 代为驳回：仍在「{pipeline}」的「{from_stage}」阶段"},
    "reason_approval_withdrawn_admin": {"en": "Approval #{approval} withdrawn by the administrator {admin}: stays in "
                                              "“{from_stage}” of “{pipeline}”",
                                        "zh": "审批 #{approval} 已由管理员 {admin} 撤回：仍在「{pipeline}」的「{from_stage}」阶段"},
    "reason_comment": {"en": "{reason} ({comment})", "zh": "{reason}（{comment}）"},
    "reason_stage_entered": {"en": "Follow-up on entering “{stage}” of “{pipeline}”",
                             "zh": "进入「{pipeline}」的「{stage}」阶段后的后续事项"},
    "reason_stage_archived": {"en": "Stage “{from_stage}” of “{pipeline}” archived: moved to “{stage}”",
                              "zh": "「{pipeline}」的「{from_stage}」阶段已归档，移入「{stage}」阶段"},
    "approvals": {"en": "My approvals", "zh": "我的审批"},
    "no_approvals": {"en": "Nothing waits for your approval.", "zh": "暂无待您审批的事项。"},
    "approval_pending": {"en": "Waiting for approval to move to “{stage}”, asked by {by}.",
                         "zh": "等待审批：申请进入「{stage}」，申请人 {by}。"},
    "approval_comment": {"en": "Comment", "zh": "审批意见"},
    "approve": {"en": "Approve", "zh": "批准"},
    "reject": {"en": "Reject", "zh": "驳回"},
    "approval_approved": {"en": "Approved: the record moved to the stage.", "zh": "已批准，记录已进入该阶段。"},
    "approval_rejected": {"en": "Rejected: the record stays in its stage.", "zh": "已驳回，记录保持原阶段。"},
    "approval_requested_card": {"en": "Waiting for approval to move to “{stage}”.", "zh": "已提交审批，批准后进入「{stage}」。"},
    "approval_asks": {"en": "{by} asks to move it to “{stage}”", "zh": "{by} 申请进入「{stage}」"},
    "event_approval_requested": {"en": "approval asked", "zh": "提交审批"},
    "event_approved": {"en": "approved", "zh": "审批通过"},
    "event_rejected": {"en": "rejected", "zh": "审批驳回"},
    "event_withdrawn": {"en": "withdrawn", "zh": "审批撤回"},
    "event_by_admin": {"en": "{event} by the administrator {admin}", "zh": "{event}（管理员 {admin} 代为处理）"},
    "withdraw": {"en": "Withdraw", "zh": "撤回"},
    "approval_withdrawn": {"en": "Withdrawn: the request is closed and the record stays in its stage.",
                           "zh": "已撤回审批申请，记录保持原阶段。"},
    "system": {"en": "the system", "zh": "系统"},
    "owner": {"en": "Owner", "zh": "负责人"},
    "because": {"en": "Reason: {reason}", "zh": "原因：{reason}"},
    "restore": {"en": "Restore", "zh": "恢复"},
    "restored": {"en": "“{title}” was restored.", "zh": "“{title}”已恢复。"},
    "back_to_list": {"en": "Back to the list", "zh": "返回列表"},
    "save": {"en": "Save", "zh": "保存"},
    "cancel": {"en": "Cancel", "zh": "取消"},
    "search": {"en": "Search", "zh": "搜索"},
    # global search, saved views, bulk actions (issue 19)
    "search_everything": {"en": "Search customers, phones, e-mails…", "zh": "搜索客户、电话、邮箱…"},
    "search_nothing": {"en": "Nothing found for “{q}”.", "zh": "没有找到“{q}”。"},
    "search_more": {"en": "Show all in the list", "zh": "在列表中查看全部"},
    "views": {"en": "Views", "zh": "视图"},
    "view_all": {"en": "All", "zh": "全部"},
    "save_view": {"en": "Save view…", "zh": "保存视图…"},
    "view_name": {"en": "View name", "zh": "视图名称"},
    "view_share": {"en": "Share with role", "zh": "共享给角色"},
    "view_private": {"en": "Only me", "zh": "仅自己"},
    "view_saved": {"en": "View “{name}” saved.", "zh": "视图“{name}”已保存。"},
    "view_deleted": {"en": "View “{name}” deleted.", "zh": "视图“{name}”已删除。"},
    "view_delete": {"en": "Delete this view", "zh": "删除此视图"},
    "view_update": {"en": "Save changes to “{name}”", "zh": "保存对“{name}”的修改"},
    "select_row": {"en": "Select {title}", "zh": "选择 {title}"},
    "select_page": {"en": "Select all on this page", "zh": "选择本页全部"},
    "select_matching": {"en": "Select all {n} matching the filter", "zh": "选择符合条件的全部 {n} 条"},
    "selected_n": {"en": "{n} selected", "zh": "已选 {n} 条"},
    "bulk_action": {"en": "Action", "zh": "批量操作"},
    "bulk_assign": {"en": "Assign owner", "zh": "分配负责人"},
    "bulk_set": {"en": "Set a field", "zh": "设置字段"},
    "bulk_stage": {"en": "Move stage", "zh": "变更阶段"},
    "bulk_add_tags": {"en": "Add tags", "zh": "添加标签"},
    "bulk_remove_tags": {"en": "Remove tags", "zh": "移除标签"},
    "bulk_delete": {"en": "Delete to the recycle bin", "zh": "删除到回收站"},
    "bulk_apply": {"en": "Apply to selected", "zh": "应用到所选"},
    "bulk_field": {"en": "Field", "zh": "字段"},
    "bulk_value": {"en": "Value", "zh": "值"},
    "bulk_none": {"en": "Select records first.", "zh": "请先选择记录。"},
    "bulk_done": {"en": "{n} records changed, {r} refused.", "zh": "已修改 {n} 条，{r} 条被拒绝。"},
    "bulk_refused": {"en": "Refused", "zh": "被拒绝的记录"},
    "filters": {"en": "Filters", "zh": "筛选"},
    "apply": {"en": "Apply", "zh": "应用"},
    "clear": {"en": "Clear", "zh": "清除"},
    "columns": {"en": "Columns", "zh": "显示列"},
    "any": {"en": "Any", "zh": "全部"},
    "yes": {"en": "Yes", "zh": "是"},
    "no": {"en": "No", "zh": "否"},
    "from": {"en": "from", "zh": "从"},
    "to": {"en": "to", "zh": "到"},
    "contains": {"en": "contains", "zh": "包含"},
    "total": {"en": "{n} records", "zh": "共 {n} 条"},
    "total_more": {"en": "more than {n} records", "zh": "超过 {n} 条"},
    "page_of": {"en": "Page {page} of {pages}", "zh": "第 {page} / {pages} 页"},
    "previous": {"en": "Previous", "zh": "上一页"},
    "next": {"en": "Next", "zh": "下一页"},
    "nothing": {"en": "Nothing here yet.", "zh": "暂无记录。"},
    "no_entities": {"en": "No entities are defined yet.", "zh": "还没有定义任何实体。"},
    "board": {"en": "Board", "zh": "看板"},
    "list": {"en": "List", "zh": "列表"},
    "related": {"en": "Related records", "zh": "相关记录"},
    "see_all": {"en": "See all", "zh": "查看全部"},
    "stage_history": {"en": "Stage history", "zh": "阶段记录"},
    "created": {"en": "Created", "zh": "创建时间"},
    "updated": {"en": "Updated", "zh": "更新时间"},
    "saved": {"en": "Saved.", "zh": "已保存。"},
    "created_ok": {"en": "Created.", "zh": "已创建。"},
    "fix_errors": {"en": "Please correct the fields marked below.", "zh": "请修改下方标出的字段。"},
    "not_allowed": {"en": "You may not do this.", "zh": "您没有权限执行此操作。"},
    "not_found": {"en": "Not found.", "zh": "未找到。"},
    "bad_request": {"en": "This request cannot be carried out as sent.", "zh": "无法按所提交的内容处理此请求。"},
    "read_only": {"en": "read-only", "zh": "只读"},
    "required": {"en": "required", "zh": "必填"},
    "moved": {"en": "Moved.", "zh": "已移动。"},
    "submit": {"en": "Submit", "zh": "提交"},
    "thanks": {"en": "Thank you, we received your answers.", "zh": "提交成功，谢谢！"},
    "too_many": {"en": "Too many submissions from your address; please wait a minute.",
                 "zh": "提交过于频繁，请稍候一分钟再试。"},
    "choose": {"en": "— choose —", "zh": "— 请选择 —"},
    "no_pipeline": {"en": "No pipeline uses a stage field of this entity.", "zh": "此实体没有绑定阶段流程。"},
    "amount": {"en": "Total", "zh": "金额合计"},
    "more_cards": {"en": "{n} more in the list", "zh": "列表中还有 {n} 条"},
    # timeline, quick actions, inline edit, board (issue 19, h6)
    "timeline": {"en": "Timeline", "zh": "动态"},
    "timeline_related": {"en": "{entity} added: {title}", "zh": "新增{entity}：{title}"},
    "entered_stage": {"en": "entered {stage}", "zh": "进入{stage}"},
    "just_now": {"en": "just now", "zh": "刚刚"},
    "minutes_ago": {"en": "{n} min ago", "zh": "{n} 分钟前"},
    "hours_ago": {"en": "{n} h ago", "zh": "{n} 小时前"},
    "days_ago": {"en": "{n} days ago", "zh": "{n} 天前"},
    "older": {"en": "Older", "zh": "更早"},
    "newer": {"en": "Newer", "zh": "更新"},
    "quick_new": {"en": "New {entity}", "zh": "新建{entity}"},
    "quick_actions": {"en": "Quick actions", "zh": "快捷操作"},
    "inline_edit": {"en": "Edit {field}", "zh": "编辑{field}"},
    "inline_stale": {"en": "Someone else changed this record; it now reads: {value}", "zh": "此记录已被他人修改，当前值：{value}"},
    "inline_saved": {"en": "Saved", "zh": "已保存"},
    "cancel_edit": {"en": "Cancel", "zh": "取消"},
    "more_cards_load": {"en": "Load more", "zh": "加载更多"},
    "board_fill": {"en": "To move this card, fill in:", "zh": "移动此卡片前请填写："},
    "board_retry": {"en": "Save and move", "zh": "保存并移动"},
    "time_zone": {"en": "Times are in your time zone.", "zh": "时间按您所在时区显示。"},
    "language": {"en": "中文", "zh": "English"},
    "bad_query": {"en": "This list cannot be shown with these settings:", "zh": "无法按这些条件显示列表："},
    "id": {"en": "ID", "zh": "编号"},
    # Refusals of a write, named by labels (see web/messages.py).
    "change_reason": {"en": "Reason for the change", "zh": "变更原因"},
    "reason_needed": {"en": "is required: say why this record changes (kept in its history)",
                      "zh": "此项为必填项：请说明修改原因（记入变更记录）"},
    "cannot_move": {"en": "a record in stage “{frm}” cannot move to “{to}”; from “{frm}” it may move to: {allowed}",
                    "zh": "处于“{frm}”阶段的记录不能移到“{to}”；可移到：{allowed}"},
    "required_to_enter": {"en": "is required to enter stage “{stage}”", "zh": "进入“{stage}”阶段前必须填写"},
    "none": {"en": "nowhere", "zh": "无"},
    "by_rule": {"en": "set by a rule", "zh": "由规则自动设置"},
    # Home page, dashboards and reports (web/home.py, web/reports_screen.py, web/report_view.py).
    "home": {"en": "Home", "zh": "首页"},
    "dashboard": {"en": "Dashboard", "zh": "仪表盘"},
    "other_dashboards": {"en": "Other dashboards", "zh": "其他仪表盘"},
    "no_dashboard": {"en": "No dashboard is assigned to your roles yet.", "zh": "您的角色还没有分配仪表盘。"},
    "my_work": {"en": "My work", "zh": "我的工作"},
    "overdue": {"en": "Overdue", "zh": "已逾期"},
    "due_today": {"en": "Due today", "zh": "今天到期"},
    "recently_changed": {"en": "Recently changed, mine", "zh": "我负责的最近变更"},
    "all_records": {"en": "All records", "zh": "全部数据"},
    "report_gone": {"en": "This report is no longer available.", "zh": "此报表已不可用。"},
    "report_failed": {"en": "This report cannot be shown:", "zh": "无法显示此报表："},
    "empty_value": {"en": "(empty)", "zh": "（空）"},
    "m_count": {"en": "Count", "zh": "数量"},
    "m_count_distinct": {"en": "Distinct {field}", "zh": "{field}（去重计数）"},
    "m_sum": {"en": "Sum of {field}", "zh": "{field}合计"},
    "m_avg": {"en": "Average {field}", "zh": "{field}平均值"},
    "m_min": {"en": "Lowest {field}", "zh": "{field}最小值"},
    "m_max": {"en": "Highest {field}", "zh": "{field}最大值"},
    "m_stage": {"en": "Stage", "zh": "阶段"},
    "m_amount": {"en": "Amount", "zh": "金额"},
    "m_entered": {"en": "Entered", "zh": "进入数"},
    "m_conversion": {"en": "Conversion", "zh": "转化率"},
    "m_overall_conversion": {"en": "Overall conversion", "zh": "总转化率"},
    "m_avg_days": {"en": "Average days", "zh": "平均停留天数"},
    "m_won": {"en": "Won", "zh": "赢单数"},
    "m_per_won": {"en": "{what} per won", "zh": "每单{what}"},
    "m_avg_days_to_close": {"en": "Average days to close", "zh": "平均成交天数"},
    "reports": {"en": "Reports", "zh": "报表"},
    "new_report": {"en": "New report", "zh": "新建报表"},
    "report_entity": {"en": "Records of", "zh": "数据对象"},
    "report_group": {"en": "Group by", "zh": "分组"},
    "report_then_group": {"en": "Then by", "zh": "再按"},
    "report_measure": {"en": "Measure", "zh": "统计指标"},
    "report_chart": {"en": "Chart", "zh": "图表"},
    "report_label": {"en": "Report name", "zh": "报表名称"},
    "preview": {"en": "Preview", "zh": "预览"},
    "save_report": {"en": "Save report", "zh": "保存报表"},
    "report_saved": {"en": "Report saved.", "zh": "报表已保存。"},
    "pin_to": {"en": "Pin to dashboard", "zh": "固定到仪表盘"},
    "pinned": {"en": "Pinned to “{dashboard}”.", "zh": "已固定到“{dashboard}”。"},
    "already_pinned": {"en": "Already on “{dashboard}”.", "zh": "已在“{dashboard}”上。"},
    "download_xlsx": {"en": "Download Excel", "zh": "下载 Excel"},
    "none_group": {"en": "— none —", "zh": "— 不分组 —"},
    "b_day": {"en": "day", "zh": "日"}, "b_week": {"en": "week", "zh": "周"}, "b_month": {"en": "month", "zh": "月"},
    "b_quarter": {"en": "quarter", "zh": "季度"}, "b_year": {"en": "year", "zh": "年"},
    "c_bar": {"en": "Bars", "zh": "柱状图"}, "c_stacked_bar": {"en": "Stacked bars", "zh": "堆叠柱状图"},
    "c_line": {"en": "Line", "zh": "折线图"}, "c_pie": {"en": "Pie", "zh": "饼图"},
    "c_number": {"en": "One number", "zh": "数字"},
    "c_table": {"en": "Table only", "zh": "仅表格"},
    "no_rows": {"en": "No records match.", "zh": "没有符合条件的记录。"},
    # Export, duplicates and merge (web/record_tools.py).
    "export": {"en": "Export", "zh": "导出"},
    "export_csv": {"en": "CSV", "zh": "CSV"},
    "export_xlsx": {"en": "Excel", "zh": "Excel"},
    "find_duplicates": {"en": "Find duplicates", "zh": "查找重复"},
    "compare_by": {"en": "Compare by", "zh": "比对字段"},
    "find": {"en": "Find", "zh": "查找"},
    "no_duplicates": {"en": "No duplicates found.", "zh": "未发现重复记录。"},
    "groups_found": {"en": "{n} groups of possible duplicates", "zh": "发现 {n} 组疑似重复"},
    "groups_shown": {"en": "showing the first {n}", "zh": "显示前 {n} 组"},
    "same_value": {"en": "Same {field}: {value}", "zh": "{field}相同：{value}"},
    "keep_record": {"en": "Record to keep", "zh": "保留的记录"},
    "keep_values": {"en": "Values to keep", "zh": "保留的值"},
    "keep_own": {"en": "the kept record's", "zh": "保留记录的值"},
    "tags_united": {"en": "Tags of all records are kept.", "zh": "所有记录的标签都会保留。"},
    "merge": {"en": "Merge", "zh": "合并"},
    "merge_note": {"en": "The other records go to the recycle bin; records that refer to them will refer to the kept one.",
                   "zh": "其他记录将移入回收站，引用它们的记录将改为引用保留的记录。"},
    "merged": {"en": "{n} records were merged into “{title}”.", "zh": "已将 {n} 条记录合并到“{title}”。"},
    "no_matchable": {"en": "This entity has no text, phone or e-mail field to compare.",
                     "zh": "此实体没有可比对的文本、电话或邮箱字段。"},
    # The import page (web/imports.py).
    "import": {"en": "Import", "zh": "导入"},
    "import_into": {"en": "Import into {entity}", "zh": "批量导入{entity}"},
    "import_step_upload": {"en": "File", "zh": "上传文件"},
    "import_step_mapping": {"en": "Columns and preview", "zh": "字段匹配与预览"},
    "import_step_running": {"en": "Importing", "zh": "导入中"},
    "import_step_report": {"en": "Result", "zh": "导入结果"},
    "import_file": {"en": "CSV or Excel file", "zh": "CSV 或 Excel 文件"},
    "import_file_help": {"en": "CSV (UTF-8 or GB18030, as Excel saves it) or .xlsx, up to {mib} MiB. The first row holds the column names.",
                         "zh": "支持 CSV（UTF-8 或 Excel 保存的 GB18030 编码）和 .xlsx，最大 {mib} MiB。第一行为列名。"},
    "import_sheet": {"en": "Sheet (Excel)", "zh": "工作表（Excel）"},
    "import_sheet_first": {"en": "the first sheet", "zh": "默认第一个工作表"},
    "import_next": {"en": "Next: match the columns", "zh": "下一步：匹配字段"},
    "import_columns": {"en": "Columns and fields", "zh": "列与字段"},
    "import_columns_help": {"en": "Each column of the file goes into the field chosen here; columns left out are not imported. Your choices are remembered for the next file.",
                            "zh": "文件的每一列导入到这里选择的字段；不导入的列请选“不导入”。您的选择会被记住，下次导入时自动套用。"},
    "import_leave_out": {"en": "— leave out —", "zh": "— 不导入 —"},
    "import_preview": {"en": "Preview", "zh": "数据预览"},
    "import_preview_help": {"en": "The first {n} rows as they will be read; a marked cell will be refused, with the reason.",
                            "zh": "以下为前 {n} 行的读取结果；标红的单元格将被拒绝，并注明原因。"},
    "import_duplicates": {"en": "Existing customers and duplicates", "zh": "重复数据处理"},
    "import_match": {"en": "Same record when these fields are equal", "zh": "以下字段相同即视为同一条记录"},
    "import_match_help": {"en": "Phone numbers are compared in international form, e-mail addresses without regard to case. Rows repeating an earlier row are skipped.",
                          "zh": "手机号按国际格式比较，邮箱不区分大小写。与文件中前面行重复的行将被跳过。"},
    "import_on_match": {"en": "When a row matches an existing record", "zh": "与已有记录匹配时"},
    "import_skip": {"en": "skip the row", "zh": "跳过该行"},
    "import_update": {"en": "update the record (only the filled cells)", "zh": "更新该记录（仅更新有值的单元格）"},
    "import_all_or_nothing": {"en": "All or nothing: import no row if any row is refused", "zh": "全部或全不：任一行被拒绝则不导入任何数据"},
    "import_refresh_preview": {"en": "Update the preview", "zh": "刷新预览"},
    "import_run": {"en": "Import", "zh": "开始导入"},
    "import_progress": {"en": "{done} of {total} rows", "zh": "已处理 {done} / {total} 行"},
    "import_reload": {"en": "Refresh", "zh": "刷新"},
    "import_failed": {"en": "The file was not imported:", "zh": "文件未能导入："},
    "import_nothing_written": {"en": "Nothing was written (all or nothing): correct the refused rows and import again.",
                               "zh": "未写入任何数据（全部或全不）：请修正被拒绝的行后重新导入。"},
    "import_created": {"en": "created", "zh": "新建"},
    "import_updated": {"en": "updated", "zh": "更新"},
    "import_skipped": {"en": "skipped as duplicates", "zh": "重复跳过"},
    "import_refused": {"en": "refused", "zh": "被拒绝"},
    "import_refused_rows": {"en": "Refused rows", "zh": "被拒绝的行"},
    "import_download": {"en": "Download the refused rows (Excel)", "zh": "下载被拒绝的行（Excel）"},
    "import_row": {"en": "Row", "zh": "行号"},
    "import_column": {"en": "Column", "zh": "列"},
    "import_value": {"en": "Value", "zh": "值"},
    "import_problem": {"en": "Problem", "zh": "问题"},
    "import_another": {"en": "Import another file", "zh": "继续导入"},
    "import_not_done": {"en": "This import has not finished.", "zh": "此次导入尚未完成。"},
}


def current_language() -> str:
    """The reader's language: the cookie the language link sets, else the browser's (once per request)."""
    found = g.get("crm_lang")
    if found is None:
        chosen = request.cookies.get(COOKIE)
        found = g.crm_lang = chosen if chosen in LANGUAGES else (
            request.accept_languages.best_match(LANGUAGES, default="en") or "en")
    return found


def translate(key: str, lang: str, **values) -> str:
    if lang == EVERY:  # a page in both languages (the admin): "Yes 是"
        text = in_every_language(MESSAGES[key])
    else:
        text = MESSAGES[key].get(lang) or MESSAGES[key]["en"]
    return text.format(**values) if values else text


def label(value, lang: str) -> str:
    return text_of(value, lang)


#: Error messages of the record service in Chinese, by the rule (``code``) they name; a number in
#: the English message (a limit) is carried over. Rules not listed keep the English message.
ERRORS_ZH = {
    "required": "此项为必填项",
    "maximum": "不能大于 {n}",
    "minimum": "不能小于 {n}",
    "exclusiveMaximum": "数字位数过多",
    "exclusiveMinimum": "数字位数过多",
    "maxLength": "最多 {n} 个字符",
    "minItems": "请至少选择一项",
    "multipleOf": "小数位数过多（最多 {n} 位）",
    "enum": "请从给定的选项中选择",
    "type": "格式不正确",
    "format": "格式不正确",
    "pattern": "格式不正确",
    "unique": "已有其他记录使用了这个值",
    "stale": "记录已被他人修改，请刷新后重试",
    "reference": "找不到所引用的记录",
    "forbidden": "您没有权限执行此操作",
    "not_found": "未找到",
    # approvals and role-limited stages (runtime/approvals.py)
    "enter_roles": "您的角色不能将记录移入该阶段",
    "pending_approval": "记录正在等待审批，审批完成前不能变更阶段",
    "approval": "进入该阶段需要审批：请先在较早的阶段创建记录，再移入该阶段",
    "approver_missing": "请填写审批人：进入该阶段需要其审批",
    "approver": "只有审批人可以处理此审批",
    "decided": "此审批已处理过",
    "requester": "只有申请人或管理员可以撤回此审批",
}


def localise(errors: list[dict], lang: str) -> list[dict]:
    """Errors with their messages in ``lang`` where a translation exists (the code stays the rule)."""
    if lang != "zh":
        return errors
    import re
    out = []
    for e in errors:
        template = ERRORS_ZH.get(e.get("code"))
        if template is None or _is_chinese(e.get("message") or ""):  # written in Chinese already (form rules)
            out.append(e)
            continue
        number = re.search(r"-?\d+(?:\.\d+)?", e.get("message") or "")
        if "{n}" in template and number is None:
            out.append(e)
            continue
        out.append({**e, "message": template.format(n=number.group(0) if number else "")})
    return out


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
