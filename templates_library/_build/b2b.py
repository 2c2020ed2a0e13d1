"""B2B services B2B服务: companies (industry, size, source), contacts with their role in the decision
chain (决策链), opportunities through 初步接触 → 需求分析 → 报价 → 签约 or lost, pain-point tags."""
from __future__ import annotations

from decimal import Decimal

from .common import (L, Sample, campaign, communication, dashboard, field, ref, report, roles, select, service_request,
                     shared_records, task)

INDUSTRIES = [("manufacturing", "Manufacturing", "制造业"), ("it", "IT and software", "信息技术"),
              ("finance", "Finance", "金融"), ("retail", "Retail", "零售"), ("healthcare", "Healthcare", "医疗健康"),
              ("logistics", "Logistics", "物流"), ("education", "Education", "教育"), ("other", "Other", "其他")]
SIZES = [("s", "1-49 employees", "1-49人"), ("m", "50-199 employees", "50-199人"), ("l", "200-999 employees", "200-999人"),
         ("xl", "1000+ employees", "1000人以上")]
SOURCES = [("website", "Website", "官网"), ("referral", "Referral", "客户转介绍"), ("exhibition", "Trade fair", "展会"),
           ("cold_call", "Cold call", "电话拓展"), ("partner", "Partner", "合作伙伴"), ("campaign", "Campaign", "营销活动")]
ROLES = [("purchaser", "Purchaser", "采购负责人"), ("technical_evaluator", "Technical evaluator", "技术评估人"),
         ("approver", "Approver", "审批人"), ("user", "User", "使用者"), ("other", "Other", "其他")]


#: Stages of an opportunity still in play.
OPEN_STAGES = ["first_contact", "needs_analysis", "quote"]


def definitions() -> dict:
    company = {
        "key": "company", "label": L("Company", "公司客户"), "plural_label": L("Companies", "公司客户"),
        "title_field": "name", "require_change_reason": True,
        "fields": [
            field("name", "text", "Company name", "公司名称", required=True, unique=True, max_length=200),
            select("industry", "Industry", "所属行业", INDUSTRIES, required=True),
            select("size", "Company size", "公司规模", SIZES, required=True),
            select("source", "Source", "客户来源", SOURCES),
            field("region", "text", "Region", "所在地区", max_length=50),
            field("website", "url", "Website", "网址"),
            field("annual_spend", "decimal", "Yearly spend with us", "年度消费额", scale=2, min=0, indexed=True),
            # Roll-ups the platform keeps right on every opportunity and communication write (1.4.0).
            field("open_amount", "rollup", "Open opportunities amount", "在途商机金额", aggregate="sum", field="amount",
                  source={"entity": "opportunity", "via": "company"}, indexed=True,
                  filter=[{"field": "stage", "op": "in", "value": OPEN_STAGES}]),
            field("last_contacted", "rollup", "Last contacted", "最近沟通时间", aggregate="latest", field="contacted_at",
                  source={"entity": "communication", "via": "company"}),
            field("history", "long_text", "Cooperation history", "合作历史"),
            # Who got in touch through the public form, and what they asked (a visitor has no contact record).
            field("contact_name", "text", "Contact person", "联系人姓名", max_length=100),
            field("contact_phone", "phone", "Contact phone", "联系电话"),
            field("contact_email", "email", "Contact e-mail", "联系邮箱"),
            field("message", "long_text", "Message", "留言"),
            field("customer_type", "tags", "Customer type", "客户类型", taxonomy="customer_type", multiple=False),
            field("pain_points", "tags", "Pain points", "痛点标签", taxonomy="pain_points"),
            field("account_level", "tags", "Account level", "客户等级", taxonomy="account_level", multiple=False),
        ],
    }
    contact = {
        "key": "contact", "label": L("Contact", "联系人"), "plural_label": L("Contacts", "联系人"), "title_field": "name",
        "fields": [
            field("name", "text", "Name", "姓名", required=True, max_length=100),
            ref("company", "company", "Company", "所属公司", required=True, on_delete="cascade"),
            field("job_title", "text", "Job title", "职位", max_length=100),
            select("decision_role", "Role in the decision chain", "决策链角色", ROLES, required=True),
            field("phone", "phone", "Phone", "电话"),
            field("email", "email", "E-mail", "邮箱"),
            field("high_priority", "boolean", "High priority", "高优先级"),
        ],
    }
    opportunity = {
        "key": "opportunity", "label": L("Opportunity", "商机"), "plural_label": L("Opportunities", "商机"),
        "title_field": "name",
        "fields": [
            field("name", "text", "Name", "商机名称", required=True, max_length=200),
            ref("company", "company", "Company", "公司", required=True, on_delete="restrict"),
            ref("contact", "contact", "Main contact", "主要联系人"),
            field("stage", "stage", "Stage", "销售阶段"),
            field("amount", "decimal", "Amount", "金额", scale=2, min=0),
            field("probability", "integer", "Probability (%)", "成交概率", min=0, max=100),
            field("discount", "percent", "Discount (%)", "折扣率"),
            # computed when read (docs/computed-fields.md): always amount × probability of now
            field("weighted_amount", "formula", "Weighted amount", "加权金额", expression="amount * probability / 100",
                  result="decimal", scale=2),
            field("expected_close_on", "date", "Expected close", "预计签约日期", indexed=True),
            field("contract_no", "text", "Contract number", "合同编号", max_length=60),
            field("lost_reason", "text", "Reason lost", "丢单原因", max_length=300),
            ref("campaign", "campaign", "Campaign", "来源活动"),
            select("source", "Source", "商机来源", SOURCES),
        ],
    }
    links = [ref("company", "company", "Company", "公司"), ref("contact", "contact", "Contact", "联系人")]
    entities = [company, contact, opportunity,
                communication(links + [ref("opportunity", "opportunity", "Opportunity", "商机")]),
                task(links + [ref("opportunity", "opportunity", "Opportunity", "商机")]),
                service_request(links), campaign()]
    taxonomies = [
        {"key": "customer_type", "label": L("Customer type", "客户类型"), "tags": [
            {"key": "potential", "label": L("Potential", "潜在客户")},
            {"key": "intended", "label": L("Intended", "意向客户")},
            {"key": "won", "label": L("Won", "成交客户")},
            {"key": "lost", "label": L("Lost", "流失客户")}]},
        {"key": "pain_points", "label": L("Pain points", "痛点"), "tags": [
            {"key": "budget_tight", "label": L("Budget is tight", "预算紧张"), "color": "#c62828"},
            {"key": "needs_custom", "label": L("Needs a custom plan", "需定制化方案"), "color": "#6a1b9a"},
            {"key": "long_approval", "label": L("Long approval cycle", "审批周期长")},
            {"key": "incumbent_vendor", "label": L("Has an incumbent vendor", "已有供应商")},
            {"key": "data_security", "label": L("Data security concerns", "关注数据安全")}]},
        {"key": "account_level", "label": L("Account level", "客户等级"), "tags": [
            {"key": "key_account", "label": L("Key account (≥ 100,000 a year)", "大客户（年消费≥10万）"),
             "color": "#1565c0",
             "rule": {"entity": "company", "all": [{"field": "annual_spend", "op": "gte", "value": 100000}]}},
            {"key": "dormant", "label": L("No contact for 90 days", "待唤醒客户"), "color": "#f9a825",
             "rule": {"entity": "company", "all": [{"related": {"entity": "communication", "via": "company"},
                                                     "aggregate": "latest", "field": "contacted_at",
                                                     "op": "older_than_days", "value": 90}]}}]},
    ]
    follow_up = lambda text, days: {"entity": "task", "values": {"content": text, "status": "open", "company": "{company}"},  # noqa: E731
                                    "due_in_days": days, "due_field": "due_on", "assign_to_owner": True,
                                    "link_field": "opportunity"}
    pipelines = [{
        "key": "sales", "label": L("Sales funnel", "销售漏斗"), "entity": "opportunity", "field": "stage",
        "amount_field": "amount",
        "stages": [
            {"key": "first_contact", "label": L("First contact", "初步接触"), "probability": 10,
             "allowed_next": ["needs_analysis", "lost"]},
            {"key": "needs_analysis", "label": L("Needs analysis", "需求分析"), "probability": 30,
             "allowed_next": ["quote", "lost"], "on_enter": follow_up("整理「{name}」的需求", 3)},
            # 审批流: a quote giving more than 20 % off waits for a manager's approval.
            {"key": "quote", "label": L("Quote", "报价"), "probability": 60, "required_fields": ["amount"],
             "allowed_next": ["signed", "lost"], "on_enter": follow_up("跟进「{name}」的报价", 2),
             "approval": {"approvers": {"role": "manager"}, "when": [{"field": "discount", "op": "gt", "value": 20}]}},
            {"key": "signed", "label": L("Signed", "签约"), "probability": 100, "category": "won",
             "required_fields": ["contract_no", "amount"], "allowed_next": []},
            {"key": "lost", "label": L("Lost", "丢单"), "probability": 0, "category": "lost",
             "required_fields": ["lost_reason"], "allowed_next": ["first_contact"]},
        ]}]
    forms = [{
        "key": "contact_us", "label": L("Contact us", "联系我们"), "entity": "company", "public": True, "slug": "contact-us",
        "submit_label": L("Send", "提交"),
        "success_message": L("Thank you, our team will contact you within one working day.",
                             "感谢您的留言，我们会在一个工作日内与您联系。"),
        "layout": [{"title": L("Your company", "公司信息"), "fields": ["name", "industry", "size", "region", "website"]},
                   {"title": L("How to reach you", "联系方式"), "fields": ["contact_name", "contact_phone", "contact_email"]},
                   {"title": L("Your message", "留言"), "fields": ["message"]}]}]
    open_stages = OPEN_STAGES
    reports = [
        report("sales_funnel", "Sales funnel", "销售漏斗", "funnel", type="funnel", pipeline="sales"),
        report("conversion_by_source", "Conversion by source (last 365 days)", "各来源商机转化率（近365天）", "bar",
               type="conversion", pipeline="sales", dimension="source",
               filters={"created_at": {"period": "last_365_days"}}),
        report("won_per_salesperson", "Won per salesperson per month", "销售人员每月签约", "stacked_bar",
               entity="opportunity", filters={"stage": {"in": ["signed"]}},
               group_by=["owner_id", "expected_close_on:month"], measures=["count", "sum:amount"]),
        report("follow_up_effort", "Follow-up effort of won deals", "成交商机的跟进投入", "table",
               type="effort", pipeline="sales", related={"entity": "communication", "via": "opportunity"},
               dimension="owner_id"),
        report("open_pipeline_amount", "Open pipeline amount", "在途商机金额", "number", entity="opportunity",
               filters={"stage": {"in": open_stages}}, measures=["sum:amount", "count"]),
        report("open_by_stage", "Open opportunities by stage", "各阶段在途商机", "bar", entity="opportunity",
               filters={"stage": {"in": open_stages}}, group_by=["stage"], measures=["count", "sum:amount"]),
        # one series a year: a chart puts the months of this year beside those of last year
        report("won_this_year_vs_last", "Won amount per month, this year against last", "每月签约金额（今年与去年对比）",
               "line", entity="opportunity", filters={"stage": {"in": ["signed"]},
                                                      "expected_close_on": {"period": "last_2_years"}},
               group_by=["expected_close_on:year", "expected_close_on:month"], measures=["sum:amount", "count"]),
        report("team_overdue_tasks", "The team's overdue tasks", "团队逾期任务", "bar", entity="task",
               filters={"status": {"not_in": ["done", "cancelled"]}, "due_on": {"period": "before_today"}},
               group_by=["owner_id"], measures=["count"]),
    ]
    dashboards = [dashboard("sales", "Sales", "销售报表", ["manager", "sales"], [
        ("open_pipeline_amount", 3), ("sales_funnel", 6), ("conversion_by_source", 6), ("open_by_stage", 6),
        ("won_this_year_vs_last", 6), ("won_per_salesperson", 12), ("team_overdue_tasks", 6), ("follow_up_effort", 6)])]
    automations = [
        {"key": "route_service_requests", "label": L("Service requests to the service team in turn", "服务请求轮流分配给客服"),
         "entity": "service_request", "active": True, "trigger": {"on": "created"},
         "actions": [{"type": "assign", "to": "round_robin", "role": "service"},
                     {"type": "notify", "owner": True,
                      "message": {"en": "New service request: {title}", "zh": "新的服务请求：{title}"}}]},
        {"key": "quote_untouched", "label": L("Quote untouched for 7 days → task", "报价7天未跟进 → 创建任务"),
         "entity": "opportunity", "active": True,
         "trigger": {"on": "no_activity", "related": {"entity": "communication", "via": "opportunity"},
                     "field": "contacted_at", "days": 7},
         "conditions": [{"field": "stage", "op": "eq", "value": "quote"}],
         "actions": [{"type": "create_record", "entity": "task",
                      "values": {"content": "跟进「{name}」的报价（已 7 天无人跟进）", "status": "open",
                                 "company": "{company}"},
                      "due_in_days": 1, "due_field": "due_on", "assign_to_owner": True, "link_field": "opportunity"}]},
        {"key": "dormant_company", "label": L("Dormant customer → owner notified", "待唤醒客户 → 通知负责人"),
         "entity": "company", "active": True,
         "trigger": {"on": "no_activity", "related": {"entity": "communication", "via": "company"},
                     "field": "contacted_at", "days": 90},
         "actions": [{"type": "notify", "owner": True,
                      "message": {"en": "{name} has had no contact for 90 days", "zh": "{name} 已90天未沟通，请及时唤醒"}}]},
    ]
    return {"entity": entities, "taxonomy": taxonomies, "pipeline": pipelines, "form": forms,
            "role": roles(["company", "contact", "opportunity"], {"opportunity": ["amount"]}),
            "report": reports, "dashboard": dashboards, "automation": automations}


COMPANY_WORDS = ["华信", "鼎盛", "恒通", "博远", "新锐", "中科", "宏达", "瑞丰", "天成", "启明", "众诚", "凯越", "安捷", "云图",
                 "华章", "远航", "金桥", "正泰", "同创", "力拓"]
COMPANY_TAILS = {"manufacturing": "精密制造有限公司", "it": "信息技术有限公司", "finance": "金融服务有限公司",
                 "retail": "商贸有限公司", "healthcare": "医疗科技有限公司", "logistics": "物流有限公司",
                 "education": "教育科技有限公司", "other": "实业有限公司"}
TITLES = {"purchaser": "采购经理", "technical_evaluator": "技术总监", "approver": "总经理", "user": "业务主管", "other": "行政专员"}
DEALS = ["CRM 系统实施", "年度运维服务", "数据中台咨询", "定制化开发项目", "员工培训服务", "系统集成项目", "云服务迁移"]
LOST = ["预算不足", "选择了竞争对手", "项目暂停", "需求变更"]


def sample() -> dict:
    s = Sample("b2b")
    companies, contacts, opportunities = [], [], []
    used = set()
    for n in range(1, 121):
        industry = s.pick([k for k, _, _ in INDUSTRIES])
        while True:
            name = s.pick(["北京", "上海", "深圳", "杭州", "苏州", "成都", "武汉", "广州"]) + s.pick(COMPANY_WORDS) + COMPANY_TAILS[industry]
            if name not in used:
                used.add(name)
                break
        size = s.weighted([("s", 4), ("m", 4), ("l", 2), ("xl", 1)])
        spend = s.weighted([(0, 4), (1, 4), (2, 2)])
        c = {"_key": f"co{n}", "name": name, "industry": industry, "size": size,
             "source": s.pick([k for k, _, _ in SOURCES]), "region": s.pick(["华北", "华东", "华南", "西南", "华中"]),
             "customer_type": s.weighted([("potential", 4), ("intended", 3), ("won", 3), ("lost", 1)])}
        if spend:
            c["annual_spend"] = s.money(5000, 60000) if spend == 1 else s.money(100000, 600000)
        pains = [k for k, p in (("budget_tight", 0.3), ("needs_custom", 0.3), ("long_approval", 0.15),
                                ("incumbent_vendor", 0.15), ("data_security", 0.1)) if s.chance(p)]
        if pains:
            c["pain_points"] = pains
        companies.append(c)
        people = []
        for role in ["purchaser", "technical_evaluator", "approver"][:s.rnd.randint(1, 3)] + (
                ["user"] if s.chance(0.3) else []):
            k = f"ct{len(contacts) + 1}"
            people.append(k)
            person = {"_key": k, "name": s.name(), "company": {"ref": f"co{n}"}, "job_title": TITLES[role],
                      "decision_role": role, "phone": s.phone()}
            if s.chance(0.6):
                person["email"] = f"{k}@example.com"
            if role == "approver" and s.chance(0.4):
                person["high_priority"] = True
            contacts.append(person)
        for _ in range(s.weighted([(0, 2), (1, 5), (2, 2), (3, 1)])):
            stage = s.weighted([("first_contact", 5), ("needs_analysis", 4), ("quote", 3), ("signed", 3), ("lost", 2)])
            o = {"name": f"{s.pick(DEALS)}", "company": {"ref": f"co{n}"}, "contact": {"ref": s.pick(people)},
                 "source": c["source"],
                 "stage": stage, "probability": {"first_contact": 10, "needs_analysis": 30, "quote": 60, "signed": 100,
                                                 "lost": 0}[stage],
                 "expected_close_on": s.days(-30, 90) if stage not in ("signed", "lost") else s.days(-120, -1)}
            if stage != "first_contact" or s.chance(0.4):
                o["amount"] = s.money(20000, 800000).quantize(Decimal("1"))
            if stage == "signed":
                o["contract_no"] = f"HT-{s.rnd.randint(100000, 999999)}"
            if stage == "lost":
                o["lost_reason"] = s.pick(LOST)
            if "amount" not in o and stage in ("quote", "signed"):
                o["amount"] = Decimal(50000)
            opportunities.append(o)
    for n, o in enumerate(opportunities, start=1):
        o["_key"] = f"op{n}"
        # Discounts without drawing from the generator (the rest of the sample stays as it was): up to
        # 20 % on quotes and contracts, and some deals still in needs analysis asking for 25 % (moving
        # one of those to the quote stage asks a manager's approval).
        if o["stage"] in ("quote", "signed"):
            o["discount"] = Decimal((0, 5, 10, 15, 20)[n % 5])
        elif o["stage"] == "needs_analysis" and n % 3 == 0:
            o["discount"] = Decimal(25)
    def links() -> dict:  # a contact and the company they work for
        person = s.pick(contacts)
        return {"company": person["company"], "contact": {"ref": person["_key"]}}
    shared = shared_records(s, links, communications=260, tasks=80, requests=50, campaigns=[
        ("行业峰会参展", "获取 150 条制造业线索", 120000),
        ("数字化转型白皮书下载", "通过内容营销获取 300 条线索", 20000),
        ("老客户答谢会", "提升大客户续约率", 60000),
        ("线上产品发布会", "新产品发布，邀请 500 位潜在客户参会", 40000)])
    for rec in shared["communication"] + shared["task"]:
        mine = [o["_key"] for o in opportunities if o["company"] == rec["company"]]
        if mine and s.chance(0.5):
            rec["opportunity"] = {"ref": s.pick(mine)}
    return {"company": companies, "contact": contacts, "opportunity": opportunities, **shared}


BUNDLE = {"name": "b2b", "version": "1.6.1", "label": L("B2B services", "B2B服务"),
          "description": L("A B2B services firm: companies with industry, size and source, contacts with their role "
                           "in the decision chain, opportunities through first contact → needs analysis → quote → "
                           "signed or lost with amount and probability, follow-up tasks per stage, a manager's "
                           "approval for a quote with more than 20 % discount, pain-point and key-account tags, a "
                           "public contact form.",
                           "B2B服务企业模板：公司客户（行业、规模、来源）、联系人及其决策链角色、商机（初步接触→需求分析→报价→"
                           "签约或丢单，含金额与成交概率），每个阶段自动生成跟进任务；折扣超过20%的报价需主管审批；痛点与大客户标签；"
                           "公开的联系我们表单。")}
