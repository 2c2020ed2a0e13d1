"""Education 教育: students (学员) with age group (学员年龄段) and course type (课程类型), guardians,
courses and learning progress; a trial lesson → enrolled → renewal pipeline."""
from __future__ import annotations

from decimal import Decimal

from .common import (L, Sample, campaign, communication, dashboard, field, ref, report, roles, select, service_request,
                     shared_records, task)

AGE_GROUPS = [("preschool", "Pre-school (3-6)", "学前（3-6岁）"), ("primary", "Primary (7-12)", "小学（7-12岁）"),
              ("middle", "Middle school (13-15)", "初中（13-15岁）"), ("high", "High school (16-18)", "高中（16-18岁）"),
              ("adult", "Adult", "成人")]
COURSE_TYPES = [("math", "Mathematics", "数学思维"), ("english", "English", "英语"), ("art", "Art", "美术"),
                ("music", "Music", "音乐"), ("coding", "Programming", "少儿编程"), ("dance", "Dance", "舞蹈")]
SOURCES = [("referral", "Referral", "老学员推荐"), ("wechat", "WeChat", "微信公众号"), ("flyer", "Flyer", "地推传单"),
           ("walk_in", "Walk-in", "到店咨询"), ("online_ads", "Online ads", "网络广告")]


def definitions() -> dict:
    guardian = {
        "key": "guardian", "label": L("Guardian", "家长"), "plural_label": L("Guardians", "家长"), "title_field": "name",
        "fields": [
            field("name", "text", "Name", "姓名", required=True, max_length=100),
            field("phone", "phone", "Phone", "联系电话", required=True, indexed=True),
            select("relation", "Relation", "与学员关系", [("mother", "Mother", "母亲"), ("father", "Father", "父亲"),
                                                      ("grandparent", "Grandparent", "祖父母"), ("other", "Other", "其他")]),
            field("wechat", "text", "WeChat ID", "微信号", max_length=60),
        ],
    }
    student = {
        "key": "student", "label": L("Student", "学员"), "plural_label": L("Students", "学员"), "title_field": "name",
        "fields": [
            field("name", "text", "Name", "姓名", required=True, max_length=100),
            select("age_group", "Age group", "学员年龄段", AGE_GROUPS, required=True),
            select("course_type", "Course type", "课程类型", COURSE_TYPES, required=True),
            field("birth_date", "date", "Birth date", "出生日期"),
            ref("guardian", "guardian", "Guardian", "家长"),
            field("phone", "phone", "Phone", "联系电话"),
            select("source", "Source", "来源渠道", SOURCES),
            field("stage", "stage", "Enrolment stage", "报名阶段"),
            field("trial_on", "date", "Trial lesson date", "试听日期"),
            field("enrolled_on", "date", "Enrolled on", "报名日期"),
            field("lessons_left", "integer", "Lessons left", "剩余课时", min=0),
            field("renewal_due_on", "date", "Renewal due", "续费到期日", indexed=True),
            field("preferences", "long_text", "Consultation preferences", "咨询偏好"),
            field("labels", "tags", "Tags", "学员标签", taxonomy="student_tags"),
        ],
    }
    course = {
        "key": "course", "label": L("Course", "课程"), "plural_label": L("Courses", "课程"), "title_field": "name",
        "fields": [
            field("name", "text", "Name", "课程名称", required=True, max_length=200),
            select("course_type", "Course type", "课程类型", COURSE_TYPES, required=True),
            select("age_group", "Age group", "适用年龄段", AGE_GROUPS),
            field("lessons", "integer", "Lessons", "课时数", min=1),
            field("price", "decimal", "Price", "课程价格", scale=2, min=0),
            field("teacher", "text", "Teacher", "授课老师", max_length=100),
        ],
    }
    progress = {
        "key": "progress", "label": L("Learning progress", "学习进度"), "plural_label": L("Learning progress", "学习进度"),
        "title_field": "summary",
        "fields": [
            field("summary", "text", "Summary", "进度摘要", required=True, max_length=200),
            ref("student", "student", "Student", "学员", required=True, on_delete="cascade"),
            ref("course", "course", "Course", "课程", on_delete="restrict"),
            field("lessons_done", "integer", "Lessons done", "已上课时", min=0),
            # the course's lessons less those done, computed when read (docs/computed-fields.md)
            field("lessons_remaining", "formula", "Lessons remaining", "剩余课时（本课程）",
                  expression="course.lessons - lessons_done", result="integer"),
            field("last_lesson_on", "date", "Last lesson", "最近上课日期"),
            field("score", "integer", "Score", "测评分数", min=0, max=100),
            field("feedback", "long_text", "Feedback to parents", "学习反馈"),
        ],
    }
    links = [ref("student", "student", "Student", "学员")]
    entities = [guardian, student, course, progress, communication(links), task(links), service_request(links), campaign()]
    taxonomies = [{"key": "student_tags", "label": L("Student tags", "学员标签"), "tags": [
        {"key": "renewal_due", "label": L("Renewal due", "待续费"), "color": "#ef6c00",
         "rule": {"entity": "student", "all": [{"field": "lessons_left", "op": "lte", "value": 4}]}},
        {"key": "not_contacted", "label": L("No contact for 30 days", "30天未沟通"), "color": "#9e9e9e",
         "rule": {"entity": "student", "all": [{"related": {"entity": "communication", "via": "student"},
                                                 "aggregate": "latest", "field": "contacted_at",
                                                 "op": "older_than_days", "value": 30}]}},
        {"key": "scholarship", "label": L("Scholarship", "奖学金")},
        {"key": "competition", "label": L("Competition track", "竞赛班")},
        {"key": "needs_attention", "label": L("Needs attention", "需重点关注")}]}]
    pipelines = [{
        "key": "enrolment", "label": L("Enrolment", "招生流程"), "entity": "student", "field": "stage",
        "stages": [
            {"key": "consultation", "label": L("Consultation", "咨询"), "probability": 10,
             "allowed_next": ["trial_lesson", "lost"]},
            {"key": "trial_lesson", "label": L("Trial lesson", "试听"), "probability": 40,
             "required_fields": ["trial_on"], "allowed_next": ["enrolled", "lost"],
             "on_enter": {"entity": "task", "values": {"content": "与{name}确认试听课", "status": "open",
                                                       "priority": "high"},
                          "due_in_days": 1, "due_field": "due_on", "assign_to_owner": True, "link_field": "student"}},
            {"key": "enrolled", "label": L("Enrolled", "已报名"), "probability": 100, "category": "won",
             "required_fields": ["enrolled_on"], "allowed_next": ["renewal", "lost"]},
            {"key": "renewal", "label": L("Renewal due", "待续费"), "probability": 60, "allowed_next": ["renewed", "lost"],
             "on_enter": {"entity": "task", "values": {"content": "与{name}的家长沟通续费", "status": "open"},
                          "due_in_days": 3, "due_field": "due_on", "assign_to_owner": True, "link_field": "student"}},
            {"key": "renewed", "label": L("Renewed", "已续费"), "probability": 100, "category": "won",
             "allowed_next": ["renewal"]},
            {"key": "lost", "label": L("Lost", "流失"), "probability": 0, "category": "lost",
             "allowed_next": ["consultation"]},
        ]}]
    forms = [{
        "key": "trial_signup", "label": L("Book a trial lesson", "预约试听"), "entity": "student", "public": True,
        "slug": "trial-lesson", "submit_label": L("Book", "提交预约"),
        "success_message": L("Thank you! We will call you within a day to arrange the lesson.",
                             "感谢预约！我们会在一天内致电安排试听。"),
        "layout": [{"title": L("The student", "学员信息"), "fields": ["name", "age_group", "course_type"]},
                   {"title": L("How to reach you", "联系方式"), "fields": ["phone", "preferences"]}]}]
    enrolled = ["enrolled", "renewal", "renewed"]
    reports = [
        report("enrolment_funnel", "Enrolment funnel", "招生漏斗", "funnel", type="funnel", pipeline="enrolment"),
        report("enrolments_by_course_and_age", "Enrolments by course type and age group", "各课程类型与年龄段报名人数",
               "stacked_bar", entity="student", filters={"stage": {"in": enrolled}},
               group_by=["course_type", "age_group"], measures=["count"]),
        report("renewal_rate_per_term", "Renewal rate per term", "各学期续费率", "line", type="conversion",
               pipeline="enrolment", dimension="renewal_due_on:quarter", reached=["renewed"],
               filters={"renewal_due_on": {"is_not_empty": True}}),
        report("trial_to_enrolled", "Trial lesson → enrolled, by source", "试听转报名率（按来源）", "bar",
               type="conversion", pipeline="enrolment", dimension="source", reached=enrolled,
               filters={"trial_on": {"is_not_empty": True}}),
        report("students_enrolled", "Students enrolled", "在读学员", "number", entity="student",
               filters={"stage": {"in": enrolled}}, measures=["count"]),
    ]
    dashboards = [dashboard("enrolment", "Enrolment", "招生报表", ["manager", "sales"], [
        ("students_enrolled", 3), ("enrolment_funnel", 6), ("trial_to_enrolled", 6),
        ("enrolments_by_course_and_age", 12), ("renewal_rate_per_term", 12)])]
    automations = [
        {"key": "trial_lesson_reminder", "label": L("Trial lesson booked → reminder the day before", "预约试听 → 提前一天提醒"),
         "entity": "student", "active": True, "trigger": {"on": "date", "field": "trial_on", "days_before": 1},
         "conditions": [{"field": "stage", "op": "eq", "value": "trial_lesson"}],
         "actions": [{"type": "notify", "owner": True,
                      "message": {"en": "Trial lesson of {name} tomorrow ({trial_on})",
                                  "zh": "{name} 明天（{trial_on}）试听，请提前确认"}}]},
        {"key": "renewal_follow_up", "label": L("Not renewed 30 days before term end → task", "到期前30天未续费 → 创建任务"),
         "entity": "student", "active": True, "trigger": {"on": "date", "field": "renewal_due_on", "days_before": 30},
         "conditions": [{"field": "stage", "op": "ne", "value": "renewed"}],
         "actions": [{"type": "create_record", "entity": "task",
                      "values": {"content": "与{name}的家长沟通续费事宜（到期前 30 天）", "status": "open"},
                      "due_in_days": 7, "due_field": "due_on", "assign_to_owner": True, "link_field": "student"}]},
    ]
    return {"entity": entities, "taxonomy": taxonomies, "pipeline": pipelines, "form": forms,
            "role": roles(["student", "guardian"], {"course": ["price"]}), "report": reports, "dashboard": dashboards,
            "automation": automations}


COURSES = [("数学思维启蒙班", "math", "preschool", 48, 5800), ("小学奥数提高班", "math", "primary", 64, 7800),
           ("自然拼读英语", "english", "preschool", 48, 6200), ("剑桥英语 KET", "english", "primary", 72, 9600),
           ("青少年素描", "art", "middle", 40, 4800), ("创意美术", "art", "preschool", 40, 4200),
           ("钢琴一对一", "music", "primary", 30, 9000), ("Scratch 编程", "coding", "primary", 48, 6800),
           ("Python 编程进阶", "coding", "middle", 60, 8800), ("中国舞", "dance", "primary", 48, 5200),
           ("高考数学冲刺", "math", "high", 40, 8000), ("雅思备考", "english", "high", 48, 9800),
           ("成人商务英语", "english", "adult", 36, 7200), ("成人油画", "art", "adult", 24, 3600)]
FEEDBACK = ["课堂专注度明显提高，作业完成认真", "本周进步很大，建议在家多复习", "口语表达更自信了",
            "基础扎实，可以尝试进阶内容", "需要加强练习，老师会重点辅导"]


def sample() -> dict:
    s = Sample("education")
    courses = [{"_key": f"course{n}", "name": name, "course_type": ct, "age_group": ag, "lessons": lessons,
                "price": Decimal(price), "teacher": s.name() + "老师"}
               for n, (name, ct, ag, lessons, price) in enumerate(COURSES, start=1)]
    guardians, students, progress = [], [], []
    for n in range(1, 161):
        g = {"_key": f"g{n}", "name": s.name(), "phone": s.phone(), "relation": s.weighted(
            [("mother", 6), ("father", 3), ("grandparent", 1)])}
        if s.chance(0.7):
            g["wechat"] = f"wx_parent_{n:03d}"
        guardians.append(g)
        c = s.rnd.randint(1, len(COURSES))
        _, ct, ag, lessons, _price = COURSES[c - 1]
        stage = s.weighted([("consultation", 3), ("trial_lesson", 3), ("enrolled", 5), ("renewal", 2), ("renewed", 2),
                            ("lost", 1)])
        st = {"_key": f"s{n}", "name": s.name(), "age_group": ag, "course_type": ct, "guardian": {"ref": f"g{n}"},
              "source": s.pick(["referral", "wechat", "flyer", "walk_in", "online_ads"]), "stage": stage}
        if stage != "consultation":
            st["trial_on"] = s.days(-150, -1) if stage != "trial_lesson" else s.days(1, 10)
        if stage in ("enrolled", "renewal", "renewed"):
            st["enrolled_on"] = s.days(-140, -5)
            left = s.rnd.randint(0, 4) if stage == "renewal" else s.rnd.randint(2, lessons)
            st["lessons_left"] = left
            st["renewal_due_on"] = {"days": left * 3 + s.rnd.randint(-5, 10)}
            done = lessons - left
            progress.append({"summary": f"{COURSES[c - 1][0]} 第 {done} 课时", "student": {"ref": f"s{n}"},
                             "course": {"ref": f"course{c}"}, "lessons_done": done, "last_lesson_on": s.days(-14, 0),
                             "score": s.rnd.randint(60, 100), "feedback": s.pick(FEEDBACK)})
        if s.chance(0.3):
            st["preferences"] = s.pick(["希望周末上课", "偏好小班教学", "关注升学竞赛", "希望老师多反馈", "价格敏感"])
        extra = [t for t, p in (("scholarship", 0.05), ("competition", 0.1), ("needs_attention", 0.1)) if s.chance(p)]
        if extra:
            st["labels"] = extra
        students.append(st)
    links = {"student": [st["_key"] for st in students]}
    shared = shared_records(s, links, communications=240, tasks=80, requests=40, campaigns=[
        ("暑期试听周", "邀请 300 名学员参加免费试听", 20000),
        ("老带新推荐有礼", "通过老学员推荐获得 100 名新学员", 15000),
        ("未续费学员回访", "向未续费学员发送试听课邀请", 3000),
        ("期末学习成果展", "向在读家长展示学习成果，提高续费率", 12000)])
    return {"guardian": guardians, "student": students, "course": courses, "progress": progress, **shared}


BUNDLE = {"name": "education", "version": "1.5.1", "label": L("Education", "教育培训"),
          "description": L("A training school: students with age group and course type, guardians, courses and "
                           "learning progress; a consultation → trial lesson → enrolled → renewal pipeline with "
                           "follow-up tasks; a public trial-lesson booking form.",
                           "培训机构模板：学员（学员年龄段、课程类型）、家长、课程与学习进度；咨询→试听→报名→续费的招生流程，"
                           "自动生成跟进任务；公开的试听预约表单。")}
