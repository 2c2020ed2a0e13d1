"""E-commerce 电商: customers with average order value (客单价), repeat purchases (复购次数), total spend
and last purchase; products and orders; value and activity tags applied by rules."""
from __future__ import annotations

from decimal import Decimal

from .common import (L, Sample, campaign, communication, dashboard, field, ref, report, roles, select, service_request,
                     shared_records, task)

FIRST_CHANNEL = [("tmall", "Tmall", "天猫"), ("jd", "JD.com", "京东"), ("wechat_shop", "WeChat shop", "微信小店"),
                 ("douyin", "Douyin", "抖音"), ("website", "Website", "官网"), ("offline", "Offline store", "线下门店")]
CATEGORIES = [("apparel", "Apparel", "服饰"), ("beauty", "Beauty", "美妆"), ("home", "Home", "家居"),
              ("food", "Food", "食品"), ("digital", "Electronics", "数码")]


#: The orders a customer has paid for: what repeat purchases and the average order value count.
PAID = [{"field": "status", "op": "in", "value": ["paid", "shipped", "completed"]}]


def definitions() -> dict:
    customer = {
        "key": "customer", "label": L("Customer", "客户"), "plural_label": L("Customers", "客户"), "title_field": "name",
        "fields": [
            field("name", "text", "Name", "姓名", required=True, max_length=100),
            field("phone", "phone", "Phone", "联系电话", indexed=True),
            field("email", "email", "E-mail", "邮箱"),
            field("city", "text", "City", "城市", max_length=50),
            select("first_channel", "First-contact channel", "首次接触渠道", FIRST_CHANNEL, required=True),
            # Roll-ups over the customer's paid orders (paid, shipped or completed), kept right by the
            # platform on every order write. Until 1.4.0 both were typed by hand (avg_order_value is
            # archived by the upgrade, its values kept).
            field("average_order_value", "rollup", "Average order value", "客单价", aggregate="avg", field="amount",
                  scale=2, source={"entity": "shop_order", "via": "customer"}, filter=PAID),
            field("repeat_purchases", "rollup", "Repeat purchases", "复购次数", aggregate="count",
                  source={"entity": "shop_order", "via": "customer"}, filter=PAID),
            field("total_spend", "decimal", "Total spend", "累计消费", scale=2, min=0, indexed=True),
            field("last_purchase_on", "date", "Last purchase", "最近购买日期", indexed=True),
            field("preferences", "multi_select", "Preferred categories", "偏好品类",
                  choices=[{"key": k, "label": L(en, zh)} for k, en, zh in CATEGORIES]),
            field("value_segment", "tags", "Value segment", "价值分层", taxonomy="customer_value", multiple=False),
            field("activity", "tags", "Activity", "活跃度", taxonomy="customer_activity", multiple=False),
            field("labels", "tags", "Tags", "客户标签", taxonomy="customer_type"),
        ],
    }
    product = {
        "key": "product", "label": L("Product", "产品"), "plural_label": L("Products", "产品"), "title_field": "name",
        "fields": [
            field("name", "text", "Name", "产品名称", required=True, max_length=200),
            field("sku", "text", "SKU", "货号", required=True, unique=True, max_length=40),
            select("category", "Category", "品类", CATEGORIES, required=True),
            field("price", "decimal", "Price", "售价", scale=2, min=0, required=True),
            field("stock", "integer", "Stock", "库存", min=0),
            field("on_sale", "boolean", "On sale", "在售"),
        ],
    }
    order = {
        "key": "shop_order", "label": L("Order", "订单"), "plural_label": L("Orders", "订单"), "title_field": "order_no",
        "fields": [
            field("order_no", "text", "Order number", "订单号", required=True, unique=True, max_length=40),
            ref("customer", "customer", "Customer", "客户", required=True, on_delete="restrict"),
            ref("product", "product", "Product", "产品", on_delete="restrict"),
            field("quantity", "integer", "Quantity", "数量", min=1),
            field("amount", "decimal", "Amount", "订单金额", scale=2, min=0, required=True),
            field("ordered_on", "date", "Ordered on", "下单日期", required=True, indexed=True),
            select("channel", "Channel", "销售渠道", FIRST_CHANNEL),
            field("status", "stage", "Status", "订单状态"),
            field("tracking_no", "text", "Tracking number", "物流单号", max_length=60),
        ],
    }
    links = [ref("customer", "customer", "Customer", "客户")]
    entities = [customer, product, order, communication(links), task(links + [ref("shop_order", "shop_order", "Order", "订单")]),
                service_request(links + [ref("shop_order", "shop_order", "Order", "订单")]), campaign()]
    taxonomies = [
        {"key": "customer_value", "label": L("Customer value", "客户价值"), "tags": [
            {"key": "high_value", "label": L("High value", "高价值客户"), "color": "#c62828",
             "rule": {"entity": "customer", "all": [{"field": "total_spend", "op": "gte", "value": 5000}]}},
            {"key": "ordinary", "label": L("Ordinary", "普通客户"), "color": "#757575",
             "rule": {"entity": "customer", "all": [{"field": "total_spend", "op": "lt", "value": 5000}]}}]},
        {"key": "customer_activity", "label": L("Activity", "活跃度"), "tags": [
            {"key": "active", "label": L("Active", "活跃客户"), "color": "#2e7d32",
             "rule": {"entity": "customer", "all": [{"field": "last_purchase_on", "op": "within_days", "value": 30}]}},
            {"key": "dormant", "label": L("To re-awaken", "待唤醒客户"), "color": "#f9a825",
             "rule": {"entity": "customer", "all": [{"field": "last_purchase_on", "op": "older_than_days", "value": 90}]}}]},
        {"key": "customer_type", "label": L("Customer type", "客户类型"), "tags": [
            {"key": "potential", "label": L("Potential", "潜在客户")},
            {"key": "intended", "label": L("Intended", "意向客户")},
            {"key": "won", "label": L("Won", "成交客户")},
            {"key": "lost", "label": L("Lost", "流失客户")},
            {"key": "needs_after_sales", "label": L("Needs close after-sales follow-up", "需重点售后跟进")},
            {"key": "price_sensitive", "label": L("Price comparison", "价格对比")},
            {"key": "vip", "label": L("VIP (an order over 2,000)", "VIP客户（单笔订单超2000）"), "color": "#6a1b9a"}]},
    ]
    pipelines = [{
        "key": "order_fulfilment", "label": L("Order fulfilment", "订单履约"), "entity": "shop_order", "field": "status",
        "amount_field": "amount",
        "stages": [
            {"key": "pending_payment", "label": L("Awaiting payment", "待付款"), "probability": 20,
             "allowed_next": ["paid", "cancelled"]},
            {"key": "paid", "label": L("Paid", "已付款"), "probability": 90, "allowed_next": ["shipped", "refunded"]},
            {"key": "shipped", "label": L("Shipped", "已发货"), "probability": 95, "required_fields": ["tracking_no"],
             "allowed_next": ["completed", "refunded"]},
            {"key": "completed", "label": L("Completed", "已完成"), "probability": 100, "category": "won",
             "allowed_next": ["refunded"]},
            {"key": "refunded", "label": L("Refunded", "已退款"), "probability": 0, "category": "lost", "allowed_next": [],
             "on_enter": {"entity": "service_request", "values": {"title": "订单 {order_no} 退款",
                                                                  "request_type": "refund", "priority": "high",
                                                                  "status": "new"},
                          "due_in_days": 0, "due_field": "opened_on", "assign_to_owner": True, "link_field": "shop_order"}},
            {"key": "cancelled", "label": L("Cancelled", "已取消"), "probability": 0, "category": "lost",
             "allowed_next": []},
        ]}]
    reports = [
        report("customers_by_repeat_purchases", "Customers by repeat purchases", "按复购次数分布的客户", "bar",
               entity="customer", group_by=["repeat_purchases:bands:1,2,4,7"], measures=["count", "sum:total_spend"]),
        report("average_order_value_distribution", "Average order value distribution", "客单价分布", "bar",
               entity="customer", group_by=["average_order_value:bands:100,200,500,1000,2000"], measures=["count"]),
        report("orders_per_month", "Orders per month", "每月订单", "line", entity="shop_order",
               group_by=["ordered_on:month"], measures=["count", "sum:amount"]),
        report("sales_this_month", "Sales this month", "本月销售额", "number", entity="shop_order",
               filters={"ordered_on": {"period": "this_month"}}, measures=["sum:amount", "count"]),
    ]
    dashboards = [dashboard("shop", "Shop", "店铺报表", ["manager", "sales"], [
        ("sales_this_month", 3), ("orders_per_month", 12), ("customers_by_repeat_purchases", 6),
        ("average_order_value_distribution", 6)])]
    automations = [
        {"key": "big_order_vip", "label": L("Order over 2,000 → customer tagged VIP, owner notified",
                                           "订单金额超过2000 → 客户标记VIP并通知负责人"),
         "entity": "shop_order", "active": True, "trigger": {"on": "created"},
         "conditions": [{"field": "amount", "op": "gte", "value": 2000}],
         "actions": [{"type": "add_tags", "via": "customer", "field": "labels", "tags": ["vip"]},
                     {"type": "notify", "owner": True,
                      "message": {"en": "Big order {order_no}: {amount}", "zh": "大额订单 {order_no}：{amount}"}}]},
    ]
    return {"entity": entities, "taxonomy": taxonomies, "pipeline": pipelines,
            "role": roles(["customer", "shop_order"], {"shop_order": ["amount"]}), "report": reports,
            "dashboard": dashboards, "automation": automations}


PRODUCTS = [("纯棉圆领T恤", "apparel", 89), ("羊毛针织开衫", "apparel", 399), ("防晒霜 SPF50", "beauty", 128),
            ("保湿面霜", "beauty", 268), ("记忆棉枕头", "home", 159), ("北欧风台灯", "home", 239),
            ("有机绿茶礼盒", "food", 198), ("坚果大礼包", "food", 129), ("蓝牙降噪耳机", "digital", 899),
            ("智能手环", "digital", 299), ("真丝围巾", "apparel", 459), ("香薰蜡烛", "home", 99),
            ("精华液", "beauty", 598), ("挂耳咖啡", "food", 69), ("无线充电器", "digital", 159)]


def sample() -> dict:
    s = Sample("ecommerce")
    products = []
    for n, (name, category, price) in enumerate(PRODUCTS, start=1):
        products.append({"_key": f"p{n}", "name": name, "sku": f"SKU-{1000 + n}", "category": category,
                         "price": Decimal(price), "stock": s.rnd.randint(0, 800), "on_sale": s.chance(0.9)})
    customers, orders = [], []
    order_no = 0
    for n in range(1, 181):
        profile = s.weighted([("loyal", 2), ("regular", 5), ("one_off", 3), ("lapsed", 2)])
        count = {"loyal": s.rnd.randint(4, 9), "regular": s.rnd.randint(2, 4), "one_off": 1,
                 "lapsed": s.rnd.randint(1, 3)}[profile]
        last = {"loyal": -s.rnd.randint(1, 25), "regular": -s.rnd.randint(5, 80), "one_off": -s.rnd.randint(10, 200),
                "lapsed": -s.rnd.randint(95, 300)}[profile]
        channel = s.pick(["tmall", "jd", "wechat_shop", "douyin", "website", "offline"])
        total = Decimal(0)
        for k in range(count):
            p = s.rnd.randint(1, len(PRODUCTS))
            qty = s.weighted([(1, 6), (2, 3), (3, 1)]) * (4 if profile == "loyal" and s.chance(0.3) else 1)
            amount = Decimal(PRODUCTS[p - 1][2]) * qty
            total += amount
            day = last - (count - 1 - k) * s.rnd.randint(7, 40)
            order_no += 1
            if day > -3:
                status = s.pick(["pending_payment", "paid"])
            elif day > -10:
                status = s.pick(["paid", "shipped"])
            else:
                status = s.weighted([("completed", 12), ("refunded", 1), ("cancelled", 1)])
            o = {"order_no": f"E{202400000 + order_no}", "customer": {"ref": f"c{n}"}, "product": {"ref": f"p{p}"},
                 "quantity": qty, "amount": amount, "ordered_on": {"days": day}, "channel": channel, "status": status}
            if status in ("shipped", "completed", "refunded"):
                o["tracking_no"] = f"SF{s.rnd.randint(10**11, 10**12 - 1)}"
            orders.append(o)
        c = {"_key": f"c{n}", "name": s.name(), "phone": s.phone(), "city": s.pick(
            ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "苏州"]),
             "first_channel": channel, "total_spend": total, "last_purchase_on": {"days": last},
             "preferences": sorted({PRODUCTS[s.rnd.randint(0, len(PRODUCTS) - 1)][1] for _ in range(2)})}
        if s.chance(0.5):
            c["email"] = f"customer{n}@example.com"
        kind = {"loyal": "won", "regular": "won", "one_off": s.pick(["intended", "won"]), "lapsed": "lost"}[profile]
        c["labels"] = [kind] + (["needs_after_sales"] if s.chance(0.1) else []) + (
            ["price_sensitive"] if s.chance(0.2) else [])
        customers.append(c)
    links = {"customer": [c["_key"] for c in customers]}
    shared = shared_records(s, links, communications=220, tasks=90, requests=60, campaigns=[
        ("618 年中大促", "拉新 2000 人，老客复购率提升 10%", 50000),
        ("会员日专享折扣", "唤醒 90 天未购买的客户", 8000),
        ("新品试用招募", "收集 200 份新品试用反馈", 5000),
        ("双十一预热", "提前锁定高价值客户订单", 80000)])
    return {"customer": customers, "product": products, "shop_order": orders, **shared}


BUNDLE = {"name": "ecommerce", "version": "1.6.1", "label": L("E-commerce", "电商"),
          "description": L("An online shop: customers with average order value, repeat purchases and spend; products "
                           "and orders through fulfilment; value and activity tags kept up to date by rules; "
                           "communication records, tasks, service requests and campaigns.",
                           "网店模板：客户（客单价、复购次数、累计消费）、产品、订单履约流程，按规则自动打上价值与活跃度标签；"
                           "并含沟通记录、任务、服务请求和营销活动。")}
