"""What every template carries: communication records, tasks, service requests, marketing campaigns.

The shared entities are word for word the same in every template except the reference fields
that tie them to the template's own entities, so installing two templates side by side merges
them (each brings its references) instead of clashing.
"""
from __future__ import annotations

import random
from decimal import Decimal


def L(en: str, zh: str) -> dict:
    return {"en": en, "zh": zh}


def choice(key: str, en: str, zh: str) -> dict:
    return {"key": key, "label": L(en, zh)}


def field(key: str, type_: str, en: str, zh: str, **options) -> dict:
    return {"key": key, "type": type_, "label": L(en, zh), **options}


def select(key: str, en: str, zh: str, choices: list[tuple[str, str, str]], **options) -> dict:
    return field(key, "select", en, zh, choices=[choice(*c) for c in choices], **options)


def report(key: str, en: str, zh: str, chart: str, **spec) -> dict:
    """A report definition (docs/reports.md)."""
    return {"key": key, "label": L(en, zh), "chart": chart, **spec}


def dashboard(key: str, en: str, zh: str, roles: list[str], widgets: list[tuple[str, int]]) -> dict:
    """A dashboard: (report key, width) widgets; a width of 3 shows the report as one big number."""
    return {"key": key, "label": L(en, zh), "roles": roles,
            "widgets": [{"number": k, "width": w} if w == 3 else {"report": k, "width": w} for k, w in widgets]}


def ref(key: str, target: str, en: str, zh: str, **options) -> dict:
    return field(key, "reference", en, zh, target=target, on_delete=options.pop("on_delete", "set_null"), **options)


CHANNELS = [("call", "Phone call", "电话"), ("email", "E-mail", "邮件"), ("visit", "Visit", "拜访"),
            ("chat", "Chat", "在线沟通")]
INTENT = [("high", "High", "高"), ("medium", "Medium", "中"), ("low", "Low", "低")]
TASK_STATUS = [("open", "To do", "待办"), ("in_progress", "In progress", "进行中"), ("done", "Done", "已完成"),
               ("cancelled", "Cancelled", "已取消")]
PRIORITY = [("urgent", "Urgent", "紧急"), ("high", "High", "高"), ("normal", "Normal", "普通"), ("low", "Low", "低")]
REQUEST_STATUS = [("new", "New", "新建"), ("assigned", "Assigned", "已分派"), ("in_progress", "In progress", "处理中"),
                  ("resolved", "Resolved", "已解决"), ("closed", "Closed", "已关闭")]
REQUEST_TYPE = [("question", "Question", "咨询"), ("complaint", "Complaint", "投诉"), ("repair", "Repair", "维修"),
                ("refund", "Refund", "退款"), ("other", "Other", "其他")]
CAMPAIGN_CHANNEL = [("email", "E-mail", "邮件"), ("sms", "SMS", "短信"), ("social", "Social media", "社交媒体"),
                    ("wechat", "WeChat", "微信"), ("event", "Event", "线下活动"), ("ads", "Online ads", "网络广告")]
CAMPAIGN_STATUS = [("planned", "Planned", "筹备中"), ("running", "Running", "进行中"), ("finished", "Finished", "已结束")]


def communication(links: list[dict]) -> dict:
    return {
        "key": "communication", "label": L("Communication record", "沟通记录"),
        "plural_label": L("Communication records", "沟通记录"), "title_field": "summary",
        # The button on a customer's page that logs a call: the time defaults to now.
        "action_label": L("Log communication", "记录沟通"),
        "description": L("Every call, e-mail, visit or chat, with the intent it showed and the next follow-up",
                         "每一次电话、邮件、拜访或在线沟通，记录意向度和下次跟进时间"),
        "fields": [
            select("channel", "Channel", "沟通方式", CHANNELS, required=True),
            field("summary", "text", "Summary", "沟通要点", required=True, max_length=500),
            field("details", "long_text", "Details", "详细记录"),
            field("contacted_at", "datetime", "Contacted at", "沟通时间", required=True, indexed=True, default="now"),
            select("intent", "Intent level", "意向度", INTENT),
            field("next_follow_up", "date", "Next follow-up", "下次跟进时间", indexed=True),
        ] + links,
        # The owner is reminded, in the bell, on the day of the next follow-up.
        "reminders": [{"field": "next_follow_up", "days_before": 0}],
    }


def task(links: list[dict]) -> dict:
    return {
        "key": "task", "label": L("Task", "任务"), "plural_label": L("Tasks", "任务"), "title_field": "content",
        "description": L("Follow-ups with an owner and a due date; the result is recorded when done",
                         "有负责人和截止日期的跟进任务，完成后记录结果"),
        "fields": [
            field("content", "text", "Content", "任务内容", required=True, max_length=300),
            field("due_on", "date", "Due date", "截止日期", indexed=True),
            select("status", "Status", "状态", TASK_STATUS, required=True, default="open"),
            select("priority", "Priority", "优先级", PRIORITY, default="normal"),
            field("result", "long_text", "Result", "完成结果"),
        ] + links,
        # The owner is reminded the day before a task is due, unless it is done or cancelled.
        "reminders": [{"field": "due_on", "days_before": 1, "exclude": {"field": "status", "values": ["done", "cancelled"]}}],
    }


def service_request(links: list[dict]) -> dict:
    return {
        "key": "service_request", "label": L("Service request", "服务请求"),
        "plural_label": L("Service requests", "服务请求"), "title_field": "title",
        "fields": [
            field("title", "text", "Title", "标题", required=True, max_length=200),
            select("request_type", "Type", "类型", REQUEST_TYPE, required=True),
            select("priority", "Priority", "优先级", PRIORITY, required=True, default="normal"),
            select("status", "Status", "状态", REQUEST_STATUS, required=True, default="new"),
            field("opened_on", "date", "Opened on", "提交日期", indexed=True),
            field("resolved_on", "date", "Resolved on", "解决日期"),
            field("satisfaction", "integer", "Satisfaction (1-5)", "满意度评价", min=1, max=5),
            field("description", "long_text", "Description", "问题描述"),
        ] + links,
    }


def campaign() -> dict:
    return {
        "key": "campaign", "label": L("Marketing campaign", "营销活动"), "plural_label": L("Marketing campaigns", "营销活动"),
        "title_field": "name",
        "fields": [
            field("name", "text", "Name", "活动名称", required=True, max_length=200),
            field("goal", "long_text", "Goal", "活动目标"),
            select("channel", "Channel", "推广渠道", CAMPAIGN_CHANNEL, required=True),
            field("budget", "decimal", "Budget", "预算", scale=2, min=0),
            field("starts_on", "date", "Starts on", "开始日期"),
            field("ends_on", "date", "Ends on", "结束日期"),
            select("status", "Status", "状态", CAMPAIGN_STATUS, default="planned"),
            field("leads", "integer", "Leads gained", "获得线索数", min=0),
        ],
    }


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰",
         "霞", "平", "刚", "桂英", "欣怡", "子轩", "浩然", "梓涵", "雨桐", "宇航", "思远", "佳怡", "俊杰", "诗涵", "博文", "一诺"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "苏州", "重庆", "天津", "长沙", "厦门"]


class Sample:
    """Deterministic sample data: a seeded generator, so the bundle is the same on every build."""

    def __init__(self, seed: str):
        self.rnd = random.Random(seed)

    def name(self) -> str:
        return self.rnd.choice(SURNAMES) + self.rnd.choice(GIVEN)

    def phone(self) -> str:
        return f"+86 1{self.rnd.choice('3578')}{self.rnd.randint(0, 9)} {self.rnd.randint(1000, 9999)} {self.rnd.randint(1000, 9999)}"

    def pick(self, options):
        return self.rnd.choice(options)

    def weighted(self, pairs: list[tuple[object, int]]):
        return self.rnd.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]

    def money(self, lo: int, hi: int) -> Decimal:
        return Decimal(self.rnd.randint(lo * 100, hi * 100)) / 100

    def days(self, lo: int, hi: int) -> dict:
        return {"days": self.rnd.randint(lo, hi)}

    def moment(self, lo: int, hi: int) -> dict:
        return {"days": self.rnd.randint(lo, hi), "time": f"{self.rnd.randint(1, 10):02d}:{self.rnd.choice(['00', '15', '30', '45'])}"}

    def chance(self, p: float) -> bool:
        return self.rnd.random() < p


SUMMARIES = {
    "call": ["电话回访，确认需求", "电话沟通报价细节", "电话提醒跟进事项", "客户来电咨询"],
    "email": ["发送方案资料", "邮件确认合同条款", "邮件发送活动邀请", "回复客户邮件咨询"],
    "visit": ["上门拜访，面谈需求", "到店面谈", "现场演示产品", "拜访客户决策人"],
    "chat": ["微信沟通最新需求", "在线答疑", "发送优惠信息", "确认下次沟通时间"],
}
TASKS = ["回访客户，确认满意度", "发送报价单", "确认合同签署", "安排产品演示", "整理需求清单", "提醒客户续费",
         "邀请参加活动", "跟进售后问题"]
RESULTS = ["已完成，客户确认", "合同已签署，扫描件已归档", "客户暂无需求，三个月后再联系", "已发送资料，等待回复"]
REQUESTS = ["无法登录账户", "发票信息需要修改", "产品使用问题咨询", "物流延迟投诉", "申请退款", "配件损坏需维修",
            "希望调整服务时间", "对服务态度不满意"]


def shared_records(s: Sample, links, *, communications: int, tasks: int, requests: int,
                   campaigns: list[tuple[str, str, int]]) -> dict[str, list[dict]]:
    """Communication records, tasks, service requests and campaigns tied to the template's records.

    ``links``: reference field of the shared entities → the ``_key`` values it may point at, or a
    function returning the reference values of one record (when they must agree, such as a contact
    and their company).
    """
    def linked() -> dict:
        if callable(links):
            return links()
        return {k: {"ref": s.pick(keys)} for k, keys in links.items()}

    comms = []
    for _ in range(communications):
        channel = s.weighted([("call", 4), ("chat", 4), ("email", 2), ("visit", 1)])
        rec = {"channel": channel, "summary": s.pick(SUMMARIES[channel]), "contacted_at": s.moment(-120, 0),
               "intent": s.weighted([("high", 2), ("medium", 3), ("low", 2)]), **linked()}
        if s.chance(0.6):
            rec["next_follow_up"] = s.days(1, 21)
        comms.append(rec)
    tasks_out = []
    for _ in range(tasks):
        status = s.weighted([("open", 4), ("in_progress", 2), ("done", 3), ("cancelled", 1)])
        rec = {"content": s.pick(TASKS), "status": status, "priority": s.weighted([("normal", 5), ("high", 2), ("urgent", 1),
                                                                                    ("low", 1)]), **linked()}
        rec["due_on"] = s.days(-20, -1) if status in ("done", "cancelled") else s.days(-3, 14)
        if status == "done":
            rec["result"] = s.pick(RESULTS)
        tasks_out.append(rec)
    reqs = []
    for _ in range(requests):
        status = s.weighted([("new", 2), ("assigned", 2), ("in_progress", 2), ("resolved", 3), ("closed", 3)])
        opened = s.rnd.randint(-90, -1)
        rec = {"title": s.pick(REQUESTS), "request_type": s.pick(["question", "complaint", "repair", "refund", "other"]),
               "priority": s.weighted([("normal", 5), ("high", 2), ("urgent", 1), ("low", 2)]), "status": status,
               "opened_on": {"days": opened}, **linked()}
        if status in ("resolved", "closed"):
            rec["resolved_on"] = {"days": min(0, opened + s.rnd.randint(0, 7))}
            rec["satisfaction"] = s.weighted([(5, 5), (4, 4), (3, 2), (2, 1), (1, 1)])
        reqs.append(rec)
    camps = []
    for n, (name, goal, channel_budget) in enumerate(campaigns):
        start = -60 + n * 20
        status = "finished" if start + 14 < 0 else "running" if start <= 0 else "planned"
        rec = {"name": name, "goal": goal, "channel": s.pick(["email", "sms", "social", "wechat", "event", "ads"]),
               "budget": Decimal(channel_budget), "starts_on": {"days": start}, "ends_on": {"days": start + 14},
               "status": status}
        if status != "planned":
            rec["leads"] = s.rnd.randint(20, 400)
        camps.append(rec)
    return {"communication": comms, "task": tasks_out, "service_request": reqs, "campaign": camps}


def roles(own: list[str], protected: dict[str, list[str]]) -> list[dict]:
    """Sales (own records of ``own``), service (sees all, updates ``protected`` entities but not their
    ``protected`` fields), manager.

    From the CRM documents: a sales representative enters and edits only the customers they are
    responsible for; customer service sees all customers but cannot change a deal amount; the
    service lead manages tags and exports reports.
    """
    mine = {"create": "own", "read": "own", "update": "own", "delete": "none"}
    sales = {e: dict(mine) for e in own}
    for e in ("communication", "task"):
        sales[e] = dict(mine)
    sales["campaign"] = {"read": "all"}
    sales["*"] = {"read": "none"}
    service = {"*": {"read": "all"},
               "service_request": {"create": "all", "read": "all", "update": "all"},
               "communication": {"create": "all", "read": "all", "update": "own"},
               "task": {"create": "all", "read": "all", "update": "own"}}
    for entity, keys in protected.items():
        # They keep such records up to date (a next step, a contact) but never change the money.
        service[entity] = {"read": "all", "update": "all", "fields": {k: {"read": True, "write": False} for k in keys}}
    return [
        {"key": "sales", "label": L("Sales representative", "销售代表"),
         "description": L("Works on the records they own", "只处理自己负责的客户和商机"), "entities": sales},
        {"key": "service", "label": L("Customer service", "客服"),
         "description": L("Sees every customer, handles service requests, cannot change amounts",
                          "可查看所有客户，处理服务请求，不能修改金额"), "entities": service},
        {"key": "manager", "label": L("Manager", "主管"),
         "description": L("Every record, every operation; builds reports", "可查看和管理所有记录，可制作报表"),
         "entities": {"*": {"create": "all", "read": "all", "update": "all", "delete": "all"}},
         "reports": {"create": True}},
    ]
