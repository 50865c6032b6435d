//! The interface languages: Simplified Chinese by default, English second. Every label of the
//! pages is looked up here by key; a test checks that each key the templates use exists.

use std::collections::HashMap;
use std::sync::LazyLock;

use cityloop_domain::enums::Labelled;
use cityloop_domain::workflow::MoveKind;

/// An interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// From the language cookie or `Accept-Language`-like codes; anything else is Chinese.
    pub fn from_code(code: &str) -> Self {
        if code.trim().to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// (key, Chinese, English).
const MESSAGES: &[(&str, &str, &str)] = &[
    ("app.name", "城市接诉即办平台", "cityloop"),
    ("nav.intake", "受理", "Intake"),
    ("nav.cases", "工单", "Cases"),
    ("nav.desk", "派遣台", "Dispatch desk"),
    ("nav.inbox", "待办", "Inbox"),
    ("nav.inspector", "巡查", "Inspection"),
    ("nav.leader", "一屏观全城", "Overview"),
    ("nav.admin", "系统管理", "Admin"),
    ("nav.portal", "市民服务", "Residents"),
    ("nav.logout", "退出", "Log out"),
    ("nav.login", "登录", "Log in"),
    ("nav.skip", "跳到正文", "Skip to content"),
    ("lang.switch", "English", "中文"),
    ("login.title", "工作人员登录", "Staff login"),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Log in"),
    ("login.failed", "用户名、密码或动态验证码不正确", "Wrong username, password or code"),
    ("account.title", "我的账号", "My account"),
    ("account.totp", "两步验证", "Two-step sign-in"),
    ("account.totp_hint", "开启后，登录除密码外还需输入验证器应用（如手机上的身份验证器）显示的6位动态验证码，每个验证码只能使用一次。", "Once on, signing in needs the 6-digit code of an authenticator app besides the password; each code works once."),
    ("account.totp_on", "已开启", "On"),
    ("account.totp_off", "未开启", "Off"),
    ("account.totp_turn_on", "开启两步验证", "Turn on two-step sign-in"),
    ("account.totp_turn_off", "关闭两步验证", "Turn off two-step sign-in"),
    ("account.totp_scan", "在验证器应用中添加以下密钥（或在手机上打开链接），然后输入它显示的验证码：", "Add this key to your authenticator app (or open the link on your phone), then enter the code it shows:"),
    ("account.totp_open", "在验证器应用中打开", "Open in the authenticator app"),
    ("account.totp_confirm", "确认开启", "Confirm"),
    ("login.code", "动态验证码（开启两步验证时填写）", "One-time code (with two-step sign-in)"),
    ("login.needs_code", "此账号已开启两步验证：请输入验证器上的6位动态验证码", "This account uses two-step sign-in: enter the 6-digit code from your authenticator app"),
    (
        "login.resident",
        "市民无需登录即可反映问题、查询进度：",
        "Residents report and follow requests without an account:",
    ),
    ("common.save", "保存", "Save"),
    ("common.cancel", "取消", "Cancel"),
    ("common.search", "查询", "Search"),
    ("common.reset", "重置", "Reset"),
    ("common.delete", "删除", "Delete"),
    ("common.confirm_delete", "确定删除？删除后不能恢复。", "Delete it? This cannot be undone."),
    ("common.none", "无", "None"),
    ("common.all", "全部", "All"),
    ("common.yes", "是", "Yes"),
    ("common.no", "否", "No"),
    ("common.total", "共", "Total"),
    ("common.page", "页", "page"),
    ("common.prev", "上一页", "Previous"),
    ("common.next", "下一页", "Next"),
    ("common.empty", "暂无", "Nothing here"),
    ("common.done", "已完成", "Done"),
    ("common.error", "出错了", "Something went wrong"),
    ("common.fix_errors", "请更正以下问题：", "Please correct the following:"),
    ("common.back", "返回", "Back"),
    ("common.open", "打开", "Open"),
    ("common.submit", "提交", "Submit"),
    ("common.refresh", "刷新", "Refresh"),
    ("common.map", "地图", "Map"),
    ("common.shortcuts", "快捷键", "Shortcuts"),
    ("field.number", "工单号", "Case number"),
    ("field.title", "标题", "Title"),
    ("field.description", "诉求内容", "Description"),
    ("field.request_type", "诉求类型", "Request type"),
    ("field.channel", "来源渠道", "Channel"),
    ("field.category", "问题分类", "Category"),
    ("field.category_search", "搜索分类", "Search categories"),
    ("field.state", "状态", "State"),
    ("field.unit", "承办单位", "Lead unit"),
    ("field.assisting", "协办单位", "Assisting units"),
    ("field.grid", "网格", "Grid"),
    ("field.grid_code", "网格编码", "Grid code"),
    ("field.division", "区域", "Area"),
    ("field.address", "地址", "Address"),
    ("field.location", "位置", "Location"),
    ("field.lat", "纬度", "Latitude"),
    ("field.lon", "经度", "Longitude"),
    ("field.phone", "来电号码", "Caller phone"),
    ("field.contact_phone", "联系电话", "Phone"),
    ("field.name", "姓名", "Name"),
    ("field.entity_name", "名称", "Name"),
    ("filter.also", "另按以下条件筛选：", "Also filtered by:"),
    ("filter.pending", "有待审批的申请", "Request awaiting approval"),
    ("filter.due_within_hours", "{} 小时内到期", "Due within {} hours"),
    ("filter.reworked", "返工过", "Reworked"),
    ("filter.master", "主工单编号", "Master case id"),
    ("filter.summoned", "吹哨待报到单位", "Summoned, not reported in"),
    ("filter.reported_in", "吹哨已报到单位", "Reported in on a whistle"),
    ("filter.assisting", "协办单位", "Assisting unit"),
    ("actor.system", "系统", "System"),
    ("actor.resident", "市民", "Resident"),
    ("field.confidential", "保密（承办单位不可见联系方式）", "Confidential (units never see the contact)"),
    ("field.urgency", "紧急程度", "Urgency"),
    ("field.deadline", "处置时限", "Deadline"),
    ("field.created", "受理时间", "Received"),
    ("field.updated", "更新时间", "Updated"),
    ("field.overdue", "超期", "Overdue"),
    ("field.photo", "照片", "Photo"),
    ("field.attachments", "附件", "Attachments"),
    ("field.reason", "理由", "Reason"),
    ("field.note", "备注", "Note"),
    ("field.answer", "答复内容", "Answer"),
    ("field.result", "处理结果", "Result"),
    ("case.result_before", "上次处理结果（未通过）", "Previous result (not accepted)"),
    ("field.hours", "延长小时数", "Extra hours"),
    ("field.days", "延长天数", "Extra days"),
    ("field.until", "挂账至", "Suspend until"),
    ("field.passed", "核查结果", "Check result"),
    ("check.passed", "通过", "Passed"),
    ("check.failed", "不通过（返工）", "Failed (rework)"),
    ("field.contacted", "已联系上市民", "Resident reached"),
    ("case.not_contacted", "未联系上市民", "Resident not reached"),
    ("field.solved", "问题已解决", "Problem solved"),
    ("field.satisfaction", "满意度", "Satisfaction"),
    ("field.level", "督办级别", "Supervision level"),
    ("field.units", "吹哨部门", "Departments to summon"),
    ("field.into", "主工单号", "Master case number"),
    ("field.comment", "评价意见", "Comment"),
    ("field.sort", "排序", "Sort"),
    ("field.q", "关键词或工单号", "Words or case number"),
    ("field.from", "起始日期", "From"),
    ("field.to", "截止日期", "To"),
    ("field.version", "版本", "Version"),
    ("field.username", "用户名", "Username"),
    ("field.password", "初始密码", "Initial password"),
    ("field.current_password", "当前密码", "Current password"),
    ("field.new_password", "新密码", "New password"),
    ("field.new_password_again", "再次输入新密码", "New password again"),
    ("account.password", "登录密码", "Password"),
    ("account.change_password", "修改密码", "Change password"),
    ("account.password_changed", "密码已修改，其他设备上的登录已退出", "Password changed; sign-ins elsewhere have ended"),
    ("field.roles", "角色", "Roles"),
    ("field.grids", "负责网格", "Grids"),
    ("field.code", "编码", "Code"),
    ("field.kind", "类型", "Kind"),
    ("field.parent", "上级", "Parent"),
    ("field.level_div", "级别", "Level"),
    ("field.limit", "时限", "Time limit"),
    ("field.mode", "计时方式", "Timing"),
    ("field.date", "日期", "Date"),
    ("field.time", "时间", "Time"),
    ("field.day_kind", "日期类型", "Day type"),
    ("field.file", "文件", "File"),
    ("level.1", "催办", "Reminder"),
    ("level.2", "督办", "Supervision"),
    ("level.3", "挂牌督办", "Listed supervision"),
    ("admin.city_wide", "全市", "City-wide"),
    ("sort.created_desc", "最新受理", "Newest"),
    ("sort.created_asc", "最早受理", "Oldest"),
    ("sort.deadline", "时限最近", "Deadline first"),
    ("sort.updated_desc", "最近更新", "Recently updated"),
    ("intake.title", "受理工作台", "Intake workbench"),
    ("intake.caller", "来电人", "Caller"),
    ("intake.history", "来电人历史诉求", "Caller's earlier requests"),
    ("intake.history_hint", "输入来电号码后显示", "Shown once the caller's number is entered"),
    ("intake.preview", "派单预览", "Dispatch preview"),
    (
        "intake.preview_hint",
        "选择分类和位置后显示承办单位与时限",
        "Choose a category and a place to see the unit and deadline",
    ),
    ("intake.suggestions", "分类建议", "Category suggestions"),
    ("intake.similar", "相似在办工单", "Similar open cases"),
    ("intake.knowledge", "知识库答复", "Knowledge base answers"),
    ("intake.smart_hint", "输入诉求内容后在此显示", "Shown here as you type the request"),
    ("intake.type_more", "请继续输入诉求内容", "Keep typing the request"),
    ("intake.no_model", "尚未训练分类模型", "No classifier model trained yet"),
    ("intake.no_suggestion", "内容不足以判断类别，请人工选择", "Nothing in the text to judge the category by: choose it"),
    ("intake.because", "依据", "Because of"),
    ("intake.merge_into", "并入", "Merge into"),
    ("intake.not_duplicate", "不是重复工单", "Not a duplicate"),
    ("intake.alike", "相似度", "alike"),
    ("intake.same_category", "同类", "same category"),
    ("intake.no_similar", "附近没有相似的在办工单", "No similar open case nearby"),
    ("intake.no_articles", "知识库中没有相关答复", "No matching article"),
    ("intake.use_article", "用此答复", "Answer with this"),
    ("case.dispatch_hints", "派单建议", "Dispatch suggestions"),
    ("case.hint_history", "历史", "history"),
    ("case.hint_catalogue", "目录", "catalogue"),
    ("case.reply_check", "答复质检", "Reply check"),
    ("case.move_refused", "未完成：工单已保存，请在此重新操作", "not done: the case is saved, try again here"),
    ("nav.replies", "答复质检", "Reply checks"),
    ("nav.evaluation", "考核排名", "Evaluation"),
    ("nav.signals", "风险预警", "Risk signals"),
    ("nav.topics", "每月一题", "Topics"),
    ("topics.title", "每月一题", "Monthly topics"),
    ("topics.hint", "候选问题按诉求量、回访未解决与不满意比例、重复来电综合排序；采纳后跟踪此后每月的诉求量。", "Candidates are ranked by volume, the share left unsolved or unsatisfied at the revisit, and repeat callers; an adopted topic is followed month by month."),
    ("topics.candidates", "候选问题", "Candidates"),
    ("topics.none", "本期没有达到10件的类别", "No category reached 10 cases in this period"),
    ("topics.score", "难度分", "Score"),
    ("topics.unsolved", "未解决", "Unsolved"),
    ("topics.unsatisfied", "不满意", "Unsatisfied"),
    ("topics.repeat", "重复来电人", "Repeat callers"),
    ("topics.adopted", "已采纳", "Adopted"),
    ("topics.lead_unit", "牵头单位", "Lead unit"),
    ("topics.goal", "治理目标", "Goal"),
    ("topics.adopt", "采纳", "Adopt"),
    ("topics.adopted_list", "已采纳的题目", "Adopted topics"),
    ("topics.no_topics", "还没有采纳题目", "No topic adopted yet"),
    ("topics.months", "每月诉求量", "Cases per month"),
    ("topics.change", "较采纳当月", "Against the month adopted"),
    ("signals.title", "风险预警", "Risk signals"),
    ("signals.state", "状态", "State"),
    ("signals.state.open", "待研判", "Open"),
    ("signals.state.task", "已转督办", "Supervision task"),
    ("signals.state.topic", "已列入每月一题", "Monthly topic"),
    ("signals.state.dismissed", "已排除", "Dismissed"),
    ("signals.scan", "立即扫描", "Scan now"),
    ("signals.hint", "集中性：同一网格或街道短期内同类诉求扎堆；趋势性：某类诉求超出正常周波动；苗头性：街道新出现的问题和预警词。", "Concentrated: many cases of one kind in one grid or street; rising: a category beyond its normal weekly variation; emerging: a problem new to a street, and watch words."),
    ("signals.score", "风险分", "Score"),
    ("signals.to_task", "转督办", "Open a supervision task"),
    ("signals.to_topic", "列入每月一题", "Take up as monthly topic"),
    ("signals.dismiss", "排除", "Dismiss"),
    ("signals.reopen", "恢复", "Reopen"),
    ("signals.none", "没有此状态的预警", "No signals in this state"),
    ("signals.kind", "类型", "Kind"),
    ("signals.what", "预警", "Signal"),
    ("signals.cases", "工单数", "Cases"),
    ("signals.days", "时段", "Days"),
    ("evaluation.title", "考核排名", "Evaluation and ranking"),
    ("evaluation.cases_title", "考核明细", "Cases behind the figures"),
    ("evaluation.period", "考核月份", "Period"),
    ("evaluation.range", "统计区间", "Days"),
    ("evaluation.compared", "对比上期", "compared with"),
    ("evaluation.hint", "点击数字查看对应工单。", "Click a number to see its cases."),
    ("evaluation.xlsx", "下载 Excel", "Download Excel"),
    ("evaluation.formula", "计分公式：", "Formula:"),
    ("evaluation.none", "本期没有可考核的记录", "Nothing to evaluate in this period"),
    ("evaluation.rank", "排名", "Rank"),
    ("evaluation.subject", "对象", "Unit or person"),
    ("evaluation.total", "综合成绩", "Score"),
    ("evaluation.grade", "等级", "Grade"),
    ("evaluation.change", "较上期", "Change"),
    ("evaluation.new", "新上榜", "new"),
    ("evaluation.unranked", "未排名", "not ranked"),
    (
        "evaluation.unranked_hint",
        "本期{metric}少于 {n} 的对象不参与排名，列于表末。",
        "Fewer than {n} {metric} in the period: listed last, not ranked.",
    ),
    ("evaluation.records", "条记录", "records"),
    ("evaluation.counted_as", "计入", "Counted as"),
    ("evaluation.day", "日期", "Day"),
    ("replies.title", "答复质检（按单位）", "Reply checks by unit"),
    ("replies.days", "统计天数", "Days"),
    ("replies.count", "答复数", "Replies"),
    ("replies.average", "平均分", "Average score"),
    ("replies.weak", "低于60分", "Under 60"),
    ("replies.none", "该时段没有答复", "No replies in this period"),
    ("replies.hint", "每次处理反馈提交时自动评分：是否回应诉求、是否说明做了什么、何时、由谁处理，是否套话。", "Every submitted result is scored: does it answer the request, say what was done, when and by whom, or is it a template."),
    ("common.filter", "筛选", "Filter"),
    ("field.body", "正文", "Text"),
    ("field.tags", "标签", "Tags"),
    ("field.created_at", "创建时间", "Created"),
    ("admin.grid_count", "个网格", "grids"),
    ("admin.import", "导入", "Import"),
    ("admin.import_articles", "导入知识", "Import articles"),
    ("admin.import_articles_hint", "CSV（title,body,category,tags）或 Markdown（每个“# 标题”一篇）", "CSV (title,body,category,tags) or Markdown (one article per “# heading”)"),
    ("admin.knowledge", "知识库", "Knowledge base"),
    ("admin.classifier", "智能分类", "Classifier"),
    ("admin.train", "用已办结工单重新训练", "Retrain on closed cases"),
    ("admin.trained", "已训练版本", "Trained version"),
    ("admin.version", "版本", "Version"),
    ("admin.source", "来源", "Source"),
    ("admin.documents", "样本数", "Documents"),
    ("admin.labels", "类别数", "Labels"),
    ("admin.macro_f1", "留出集宏F1", "Held-out macro-F1"),
    ("admin.in_use", "本节点使用版本", "Version in use on this node"),
    ("admin.threshold", "自动分类阈值", "Auto-category threshold"),
    ("admin.webhooks", "事件推送", "Webhooks"),
    ("admin.access", "访问监测", "Access watch"),
    ("access.alerts", "异常访问告警", "Unusual access alerts"),
    ("access.hint", "每个用户当天的查看联系方式、导出、登录地址和被拒请求，与其前28天日均比较；超过倍数和下限即告警。", "Each user's day — contact data shown, cases exported, sign-in addresses, refused requests — against their own daily average of the 28 days before; an alert is raised when a day exceeds that average by the set factor and reaches the set minimum."),
    ("access.alert.contact_views", "查看联系方式过多", "Much contact data shown"),
    ("access.alert.bulk_export", "批量导出", "Bulk export"),
    ("access.alert.login_addresses", "多地址登录", "Sign-ins from many addresses"),
    ("access.alert.forbidden", "多次越权请求", "Many refused requests"),
    ("access.amount", "数量", "Count"),
    ("access.baseline", "日均基线", "Daily average"),
    ("access.raised", "告警时间", "Raised"),
    ("access.records", "查看记录", "Records"),
    ("access.views", "联系方式查看记录", "Contact data shown"),
    ("access.events", "导出、登录与被拒记录", "Exports, sign-ins and refusals"),
    ("access.purpose", "用途", "Purpose"),
    ("access.purpose.case", "查看工单", "Opened the case"),
    ("access.purpose.list", "列表或搜索", "List or search"),
    ("access.purpose.move", "办理操作", "A move on the case"),
    ("access.purpose.intake", "受理录入", "Took it down at intake"),
    ("access.event.export", "导出", "Export"),
    ("access.event.login", "登录", "Sign-in"),
    ("access.event.forbidden", "被拒请求", "Refused request"),
    ("access.address", "客户端地址", "Client address"),
    ("access.detail", "详情", "Detail"),
    ("webhooks.events", "事件", "Events"),
    ("webhooks.event", "事件", "Event"),
    ("webhooks.secret", "签名密钥", "Signing secret"),
    ("webhooks.private", "允许内网", "private allowed"),
    ("webhooks.active", "推送中", "Active"),
    ("webhooks.stopped", "已停用", "Stopped"),
    ("webhooks.stop", "停用", "Stop"),
    ("webhooks.log", "推送记录", "Delivery log"),
    ("webhooks.attempts", "尝试次数", "Attempts"),
    ("webhooks.last", "最近结果", "Last result"),
    ("webhooks.next", "下次尝试", "Next attempt"),
    ("webhooks.retry", "重新推送", "Send again"),
    ("webhooks.all", "全部", "All"),
    ("webhooks.pending", "待推送", "Pending"),
    ("webhooks.delivered", "已送达", "Delivered"),
    ("webhooks.dead", "失败（死信）", "Dead letters"),
    ("webhooks.allow_private", "允许推送到内网、本机地址", "Allow private and loopback addresses"),
    (
        "webhooks.hint",
        "每个事件以 JSON POST 推送，带 X-Cityloop-Signature（HMAC-SHA256，密钥见上表）；失败后按倍增间隔重试，次数用尽进入死信，可重新推送。",
        "Each event is POSTed as JSON with X-Cityloop-Signature (HMAC-SHA256 with the secret above); failures are retried at doubling intervals, then become dead letters that can be sent again.",
    ),
    ("intake.save", "保存工单", "Save case"),
    ("intake.answer", "直接答复并办结", "Answer and close"),
    ("intake.answer_hint", "咨询类诉求可直接答复办结", "Consultations can be answered on the spot"),
    ("intake.created", "已受理，工单号", "Case created, number"),
    ("intake.merged", "已并入", "merged into"),
    ("intake.answered", "已直接答复办结，工单号", "Answered and closed, case number"),
    (
        "intake.map_hint",
        "点击地图定位，或填写网格编码、含社区或街道名的地址",
        "Click the map, or enter a grid code or an address naming the community or street",
    ),
    ("intake.no_rule", "目录未指定单位，由派遣员指定", "The catalogue names no unit: the dispatcher chooses"),
    ("intake.matched", "匹配词", "Matched"),
    ("param.period", "考核周期", "Period"),
    ("param.indicator", "考核指标", "Indicator"),
    ("param.subject", "考核对象", "Subject"),
    ("param.metric", "计数项", "Count"),
    ("param.page", "页码", "Page"),
    ("param.days", "统计天数", "Days"),
    ("param.overdue", "超期", "Overdue"),
    ("param.page_size", "每页条数", "Page size"),
    ("param.due_within_hours", "剩余时限（小时）", "Due within (hours)"),
    ("param.created_from", "受理起始日期", "Created from"),
    ("param.created_to", "受理截止日期", "Created to"),
    ("param.user", "用户", "User"),
    ("param.dispatched", "已派遣数", "Dispatched"),
    ("param.failed", "未能派遣数", "Not dispatched"),
    ("intake.needs_place", "确定位置后显示承办单位", "Place the case to see its lead unit"),
    ("intake.needs_standard", "此类别下另有细类：立案时选定具体类别后确定处置时限", "This category groups others: the time limit follows the category chosen at filing"),
    ("intake.needs_category", "选择类别后显示处置时限", "Choose a category to see the time limit"),
    ("intake.unknown_grid", "没有这个网格编码", "No grid has this code"),
    ("intake.located", "已定位到网格", "Placed in grid"),
    ("intake.by_address", "按地址定位到", "Placed by address in"),
    (
        "intake.keys",
        "Alt+P 来电号码 · Alt+T 标题 · Alt+C 分类 · Ctrl+Enter 保存 · Alt+A 直接答复",
        "Alt+P phone · Alt+T title · Alt+C category · Ctrl+Enter save · Alt+A answer",
    ),
    ("cases.title", "工单列表", "Cases"),
    ("cases.saved_views", "常用视图", "Saved views"),
    ("cases.save_view", "保存为视图", "Save as view"),
    ("cases.view_name", "视图名称", "View name"),
    ("cases.export_hint", "按当前条件", "with the current filters"),
    ("cases.export", "导出", "Export"),
    ("cases.export_what", "按当前条件导出全部工单（不含市民联系方式，最多 10 万件）", "Every case matching the current filters (no residents' contact data, at most 100,000)"),
    ("case.timeline", "办理过程", "Timeline"),
    ("case.moves", "可执行操作", "Actions"),
    ("case.details", "工单信息", "Details"),
    ("case.contact", "联系人", "Contact"),
    ("case.hidden_contact", "保密工单，联系方式不可见", "Confidential: contact hidden"),
    ("case.whistles", "吹哨报到", "Whistle roll-call"),
    ("case.reported_in", "已报到", "Reported in"),
    ("case.waiting", "待报到", "Waiting"),
    ("case.no_moves", "当前没有您可执行的操作", "Nothing for you to do on this case now"),
    ("case.pending", "待审批申请", "Request waiting"),
    ("case.extended_times", "已延期 {} 次", "extensions: {}"),
    ("case.suspended_times", "已挂账 {} 次", "suspensions: {}"),
    ("case.suspended_until", "挂账至", "Suspended until"),
    ("case.revisit", "回访结果", "Revisit"),
    ("case.merged_into", "已合并至", "Merged into"),
    ("case.first_unit", "首办单位", "First receiver"),
    ("case.stale", "工单已被他人更新，请查看最新状态后重试", "Someone else changed the case; check it and try again"),
    ("desk.title", "派遣台", "Dispatch desk"),
    ("desk.to_dispatch", "待派遣", "To dispatch"),
    ("desk.returns", "退单申请", "Return requests"),
    ("desk.requests", "延期/挂账申请", "Extension and suspension requests"),
    ("desk.overdue", "已超期", "Overdue"),
    ("desk.due_soon", "即将到期（24小时内）", "Due within 24 hours"),
    ("desk.notices", "督办通知", "Supervision notices"),
    ("desk.notice_undispatched", "待派遣", "not yet dispatched"),
    ("desk.bulk", "批量派遣", "Dispatch selected"),
    ("desk.by_catalogue", "按派单目录", "By the catalogue"),
    ("desk.suggested", "目录推荐", "Catalogue suggests"),
    ("desk.dispatched", "已派遣", "Dispatched"),
    ("desk.failed", "未能派遣", "Not dispatched"),
    ("inbox.title", "单位待办", "Unit inbox"),
    ("inbox.to_sign", "待签收", "To sign"),
    ("inbox.in_hand", "处置中", "In hand"),
    ("inbox.summoned", "吹哨报到", "Summoned by a whistle"),
    ("inbox.reported_in", "已报到、跟进至办结", "Reported in: follow until done"),
    ("inbox.assisting", "协办", "Assisting"),
    ("inbox.street", "本街道在办", "Open in the street"),
    ("inbox.due_soon", "即将到期", "Due soon"),
    ("inbox.overdue", "已超期", "Overdue"),
    ("inbox.rework", "返工", "Returned for rework"),
    ("inspector.title", "网格巡查", "Grid inspection"),
    ("inspector.report", "上报问题", "Report a problem"),
    ("inspector.locate", "获取当前位置", "Use my position"),
    ("inspector.located", "已获取位置", "Position found"),
    ("inspector.no_position", "无法获取位置，请选择网格", "No position: choose the grid"),
    (
        "portal.address_unknown",
        "没有找到这个地址所在的社区或街道：请在地图上点选位置，或写明社区、街道名称",
        "This address names no community or street we know: click the place on the map, or name the community or street",
    ),
    ("portal.no_position", "无法获取位置，请在地图上点选或填写地址", "No position: click the map or enter the address"),
    (
        "portal.map_hint",
        "点击地图定位，或填写含社区或街道名的地址",
        "Click the map, or enter an address naming the community or street",
    ),
    ("inspector.verify_tasks", "核实任务", "To verify"),
    ("inspector.check_tasks", "核查任务", "To check on site"),
    ("inspector.my_grids", "我的网格", "My grids"),
    ("inspector.reported", "已上报，工单号", "Reported, case number"),
    ("leader.title", "一屏观全城", "The city at a glance"),
    ("desk.none_ticked", "请先勾选要派遣的工单", "Tick the cases to dispatch first"),
    ("leader.legend_most", "最多", "most"),
    ("leader.unplaced", "未定位", "No district"),
    ("leader.signals", "风险预警", "Risk signals"),
    ("leader.ranking", "12345 考核排名", "Hotline ranking"),
    ("leader.trend", "三率趋势", "Response, solution and satisfaction rates"),
    ("leader.revisits", "有效回访", "Revisits"),
    ("leader.response", "响应率", "Response"),
    ("leader.solution", "解决率", "Solved"),
    ("leader.satisfaction", "满意率", "Satisfied"),
    ("leader.today", "今日受理", "Today's intake"),
    ("leader.open", "在办", "Open"),
    ("leader.overdue", "超期", "Overdue"),
    ("leader.by_channel", "按渠道", "By channel"),
    ("leader.by_district", "按区", "By district"),
    ("leader.grid_map", "网格在办工单分布", "Open cases by grid"),
    ("leader.daily", "近14日各类诉求量", "Daily volume by category, 14 days"),
    ("leader.slowest", "办理最慢的单位（近30日）", "Slowest units (30 days)"),
    ("leader.mean_hours", "平均办结时长（小时）", "Mean hours to close"),
    ("leader.closed", "办结", "Closed"),
    ("leader.overdue_now", "当前超期", "Overdue now"),
    ("leader.big", "大屏模式", "Large screen"),
    ("leader.normal", "普通模式", "Normal view"),
    ("leader.updated", "数据时间", "As of"),
    ("portal.title", "市民服务", "Resident services"),
    ("portal.submit", "我要反映", "Report a problem"),
    ("portal.track", "进度查询", "Follow a request"),
    ("portal.public", "公开诉求", "Public requests"),
    (
        "portal.submit_hint",
        "无需注册。请留下手机号，凭工单号和手机号查询进度。",
        "No account needed. Leave your phone number: with the case number it lets you follow the request.",
    ),
    ("portal.submitted", "已收到您的诉求，工单号", "We received your request, number"),
    (
        "portal.keep_number",
        "请记下工单号，凭工单号和手机号查询办理进度。",
        "Keep the number: with your phone number it lets you follow the request.",
    ),
    ("portal.track_hint", "输入工单号和反映时留下的手机号", "Enter the case number and the phone number you gave"),
    ("portal.not_found", "未找到与该手机号匹配的工单", "No request matches this number and phone"),
    ("portal.rate", "评价办理结果", "Rate the outcome"),
    ("portal.rated", "感谢您的评价", "Thank you for your rating"),
    (
        "portal.already_done",
        "此工单的进度已更新（可能已提交过），请查看下方的最新状态",
        "This request has moved on (perhaps it was already sent): see where it is now below",
    ),
    ("portal.reopen", "不满意，申请重新办理", "Not satisfied: ask for it to be handled again"),
    ("verify.found", "属实", "Found as reported"),
    ("verify.not_found", "不属实", "Not found as reported"),
    ("inspector.verify_found", "核实属实", "Found as reported"),
    ("verify.not_found_hint", "不属实…", "Not found…"),
    ("field.found", "核实结果", "Finding"),
    ("desk.returned_by_it", "（已退回本案，请另选单位）", "(returned this case: choose another unit)"),
    ("portal.merged_into", "同一问题已有工单，与其一并办理", "The same problem is handled under case"),
    ("portal.reopen_reason", "哪里还没有解决（选填）", "What is still not solved (optional)"),
    ("portal.reopened", "已申请重新办理", "Sent back to be handled again"),
    ("portal.public_hint", "已去除个人信息，位置精确到约百米", "Personal data removed; places rounded to about 100 m"),
    ("portal.use_position", "使用我的位置", "Use my position"),
    ("admin.title", "系统管理", "Administration"),
    ("admin.units", "单位", "Units"),
    ("admin.users", "用户与角色", "Users and roles"),
    ("admin.categories", "分类与立结案标准", "Categories and case standards"),
    ("admin.catalogue", "派单目录", "Dispatch catalogue"),
    ("admin.grids", "网格", "Grids"),
    ("admin.divisions", "行政区划", "Divisions"),
    ("admin.calendar", "节假日日历", "Holiday calendar"),
    ("admin.add", "新增", "Add"),
    ("admin.import_csv", "导入分类 CSV", "Import categories CSV"),
    (
        "admin.import_categories_hint",
        "UTF-8 CSV，表头为 一级分类,二级分类,三级分类。按上级与名称匹配：已有的分类保持编码、名称和标准不变，新的分类按上级编码顺延编号。",
        "UTF-8 CSV with the header 一级分类,二级分类,三级分类. Categories are matched by parent and name: existing ones keep their code, name and standard; new ones get the next free code under their parent.",
    ),
    ("admin.already_present", "已存在（未改动）", "already present (left as they are)"),
    ("admin.accounts", "账号维护", "Accounts"),
    (
        "admin.accounts_hint",
        "重置密码：给忘记密码的人设新密码（请其登录后自行修改），其登录随即失效。停用：人员离岗后账号不能再登录，令牌一并失效；可再启用。",
        "Reset: a new password for someone who forgot theirs (they change it after signing in); their sign-ins end. Close: someone left; the account cannot sign in and its tokens stop working. It can be opened again.",
    ),
    ("admin.reset_password", "重置密码", "Reset password"),
    ("admin.close_account", "停用", "Close"),
    ("admin.open_account", "启用", "Open"),
    ("admin.password_reset", "密码已重置", "password reset"),
    ("admin.account_open", "正常", "open"),
    ("admin.account_closed", "已停用", "closed"),
    ("admin.upload_geojson", "上传网格 GeoJSON", "Upload grids GeoJSON"),
    ("admin.imported", "已导入", "Imported"),
    ("admin.tester", "派单测试：这件事会派给谁？", "Tester: which unit would get this?"),
    ("admin.tester_result", "将派给", "Would go to"),
    ("admin.working_hours", "工作时间", "Working hours"),
    ("admin.special_days", "特殊日期", "Special days"),
    ("admin.holiday", "节假日", "Holiday"),
    ("admin.workday", "调休上班", "Swapped working day"),
    ("admin.normal_day", "恢复正常", "Back to normal"),
    ("admin.standard", "立结案标准", "Case standard"),
    ("admin.edit", "修改", "Edit"),
    ("admin.saved", "已保存", "Saved"),
    ("admin.inherit_standard", "沿用上级类别的标准", "Follow the standard of the category above"),
    (
        "admin.patrolled",
        "监督员巡查发现类：其他渠道立案的，计为网格监督员漏报（含下级类别）",
        "Found by grid inspectors on patrol: a case filed from another source counts as missed by the grid's inspectors (categories below too)",
    ),
    ("admin.patrolled_column", "巡查发现", "On patrol"),
    ("admin.patrolled_above", "上级类别已标为巡查发现类，本类别随之计入漏报。", "A category above it is marked: its cases count as missed too."),
    ("admin.patrolled_yes", "是", "yes"),
    ("admin.limit_mode", "计时方式", "Counted in"),
    ("admin.filing_condition", "立案条件", "Filing condition"),
    ("admin.closing_condition", "结案条件", "Closing condition"),
    (
        "admin.standard_hint",
        "已派出的案件保留原处置期限，新时限自下次派单起适用。计时方式为小时的，时限按小时计，否则按天计。",
        "Cases already dispatched keep their deadlines; the new limit applies from the next dispatch. The limit counts hours or days, as its mode says.",
    ),
    ("admin.rules", "条规则", "rules"),
    ("admin.rule_added", "规则已添加", "Rule added"),
    ("admin.rule_replaced", "规则已保存，替换了原规则（原主办单位：{}）", "Rule saved in place of the one that sent these cases to {}"),
    ("error.not_found", "未找到，或您无权查看", "Not found, or not yours to see"),
    ("error.forbidden", "您无权执行此操作", "You may not do this"),
    ("error.illegal_move", "工单当前状态下不能执行此操作", "This cannot be done to the case as it is now"),
    ("error.allowed_moves", "现在可以", "What can be done now"),
    ("error.csrf", "页面已过期，请刷新后重试", "The page has expired; reload it and try again"),
    ("error.unavailable", "服务暂不可用，请稍后重试", "Service unavailable; try again shortly"),
];

static TABLE: LazyLock<HashMap<&'static str, (&'static str, &'static str)>> =
    LazyLock::new(|| MESSAGES.iter().map(|(k, zh, en)| (*k, (*zh, *en))).collect());

/// Keys known to the table (for the template check).
pub fn known_key(key: &str) -> bool {
    TABLE.contains_key(key)
}

/// The translator handed to every template.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tr {
    pub lang: Lang,
}

/// English names where the wire name read as words would not say what the Chinese says.
const ENGLISH_NAMES: &[(&str, &str)] = &[
    ("pending_sign", "Awaiting acceptance"),
    ("close_pending", "Awaiting closure"),
    ("return_review", "Return under review"),
    ("basically_satisfied", "Fairly satisfied"),
    ("sign", "Accept"),
    ("verify", "Confirm on site"),
    ("request-verification", "Ask to verify on site"),
];

fn humanize(wire: &str) -> String {
    // Initialisms keep their capitals.
    if let Some(upper) = ["sms", "api", "gps"].iter().find(|w| **w == wire) {
        return upper.to_uppercase();
    }
    let text = wire.replace(['_', '-'], " ");
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

impl Tr {
    /// The label of a key; the key itself when it is missing (a test keeps that from shipping).
    pub fn get(&self, key: &str) -> &'static str {
        match (TABLE.get(key), self.lang) {
            (Some((zh, _)), Lang::Zh) => zh,
            (Some((_, en)), Lang::En) => en,
            (None, _) => "?",
        }
    }

    /// The text of a key, or `None` where the table has none.
    pub fn find(&self, key: &str) -> Option<&'static str> {
        TABLE.get(key).map(|(zh, en)| if self.lang == Lang::En { *en } else { *zh })
    }

    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }

    /// The label of an enumeration value (state, channel, role…): Chinese, or its wire name in
    /// English words.
    pub fn label<T: Labelled>(&self, v: T) -> String {
        self.pick(v.label(), v.wire())
    }

    /// A time limit such as "3个工作日" or "3 working days".
    pub fn limit(&self, limit: cityloop_domain::TimeLimit) -> String {
        match self.lang {
            Lang::Zh => limit.describe_zh(),
            Lang::En => limit.describe_en(),
        }
    }

    /// The name of a workflow move, as on its button.
    pub fn move_label(&self, k: MoveKind) -> String {
        let zh = match k {
            MoveKind::Report => "上报",
            MoveKind::RequestVerification => "派核实",
            MoveKind::Verify => "核实",
            MoveKind::Answer => "直接答复",
            MoveKind::File => "立案",
            MoveKind::Void => "作废",
            MoveKind::Dispatch => "派遣",
            MoveKind::Sign => "签收",
            MoveKind::Return => "申请退单",
            MoveKind::ApproveReturn => "同意退单",
            MoveKind::RejectReturn => "驳回退单",
            MoveKind::Extend => "申请延期",
            MoveKind::ApproveExtension => "同意延期",
            MoveKind::RejectExtension => "驳回延期",
            MoveKind::Suspend => "申请挂账",
            MoveKind::ApproveSuspension => "同意挂账",
            MoveKind::RejectSuspension => "驳回挂账",
            MoveKind::Resume => "恢复办理",
            MoveKind::Submit => "提交办理结果",
            MoveKind::Rework => "返工",
            MoveKind::Check => "现场核查",
            MoveKind::Revisit => "回访",
            MoveKind::Rate => "市民评价",
            MoveKind::Close => "结案",
            MoveKind::Reopen => "重办",
            MoveKind::Supervise => "督办",
            MoveKind::Comment => "备注",
            MoveKind::Escalate => "提级办理",
            MoveKind::Whistle => "吹哨",
            MoveKind::ReportIn => "报到",
            MoveKind::Merge => "合并",
            MoveKind::Overdue => "超期",
            MoveKind::CloseWithMaster => "随主案结案",
        };
        self.pick(zh, k.as_str())
    }

    fn pick(&self, zh: &str, wire: &str) -> String {
        match self.lang {
            Lang::Zh => zh.to_string(),
            Lang::En => match ENGLISH_NAMES.iter().find(|(w, _)| *w == wire) {
                Some((_, name)) => name.to_string(),
                None => humanize(wire),
            },
        }
    }
}

/// Field errors of the use cases in Chinese, by their shape: `{}` stands for a number or a `quoted`
/// value, put back in the same order.
const FIELD_MESSAGES: &[(&str, &str)] = &[
    ("is required", "必填"),
    ("is not a valid value in the page's address", "网址中的此项取值无效"),
    ("is required in the page's address", "网址中缺少此项"),
    ("is required (at most {} characters)", "必填（最多 {} 个字）"),
    ("is required to file a case", "立案须选择类别"),
    ("is required: the dispatch catalogue names no unit for this case", "必填：派单目录没有为此案件指定单位"),
    ("is longer than {} characters", "不能超过 {} 个字"),
    ("must be {} to {} characters", "须为 {} 到 {} 个字"),
    ("must be {} to {} characters without spaces", "须为 {} 到 {} 个字，不含空格"),
    ("must be at most {} characters", "最多 {} 个字"),
    ("must be at least {} characters", "至少 {} 个字符"),
    ("must be at least {} characters, not counting spaces at either end", "至少 {} 个字符（不计首尾空格）"),
    ("must differ from the current password", "须与当前密码不同"),
    ("does not match the new password", "与新密码不一致"),
    ("is one of reset, close, open", "须为 重置密码、停用 或 启用 之一"),
    ("an administrator cannot close their own account", "管理员不能停用自己的账号"),
    ("must be {} to {} letters, digits, '.', '_' or '-'", "须为 {} 到 {} 位字母、数字或 . _ -"),
    ("must be {} to {}", "须为 {} 到 {}"),
    ("must be a phone number of {} to {} digits", "请输入 {} 到 {} 位数字的电话号码"),
    ("must be a date like {}-{}-{}", "请输入日期，如 {}-{}-{}"),
    ("must be a latitude between {} and {}", "纬度须在 {} 到 {} 之间"),
    ("must be a longitude between {} and {}", "经度须在 {} 到 {} 之间"),
    ("must be in the future", "须为将来的时间"),
    ("must not contain the lead unit", "不能包含主办单位"),
    ("must be a leaf category with a case standard", "须为有立案标准的末级类别"),
    ("give at least one role", "请至少选择一个角色"),
    ("handlers and coordinators belong to a unit", "承办人员和街道协调员须选择所属单位"),
    (
        "a coordinator works in their unit's area: choose a unit with a division, such as a street office",
        "街道协调员在所属单位的辖区内工作：请选择有辖区的单位，例如街道办事处",
    ),
    (
        "an inspector reports and verifies in their own grids: give at least one",
        "监督员在自己的网格内上报和核实：请至少选择一个网格",
    ),
    (
        "its coordinators work in its area: give them another unit first",
        "本单位的街道协调员在其辖区内工作：请先将他们调到其他单位",
    ),
    ("username {} is taken", "用户名 {} 已被占用"),
    ("a unit {} already exists", "单位 {} 已存在"),
    ("another category under the same parent is called {}", "同一上级类别下已有名为 {} 的类别"),
    (
        "is required: this category or one below it would have no case standard",
        "不能沿用：上级类别都没有立结案标准，本类别或沿用本类别标准的下级类别将无标准可用",
    ),
    ("a unit cannot be placed under itself or a unit below it", "单位不能隶属于自身或其下级单位"),
    ("unknown grid {}", "没有网格 {}"),
    ("unknown category {}", "没有类别 {}"),
    (
        "{} has no case standard: an inspector reports under one that has",
        "{} 没有立案标准：监督员须选择有立案标准的具体类别上报",
    ),
    ("unknown division {}", "没有区划 {}"),
    ("unknown unit {}", "没有单位 {}"),
    ("must be UTF-{} CSV or Markdown", "须为 UTF-{} 编码的 CSV 或 Markdown 文件（在 Excel 中另存为“CSV UTF-8”）"),
    (
        "the header must name three levels, e.g. 一级分类,二级分类,三级分类",
        "表头须列出三级分类，例如 一级分类,二级分类,三级分类",
    ),
    ("expected {} fields, found {}", "应有 {} 列，实有 {} 列"),
    ("is empty", "为空"),
    ("expected a FeatureCollection", "须为 GeoJSON FeatureCollection"),
    ("must be a Polygon or MultiPolygon", "须为 Polygon 或 MultiPolygon 面"),
    (
        "must not carry a user name or password; receivers check the signature",
        "网址中不能含用户名或密码；接收方凭签名校验",
    ),
    (
        "a data recipient holds no other role: give it an account of its own",
        "数据使用方不能兼任其他角色：请为其单独建账号",
    ),
    ("{} is not a month written YYYY-MM", "{} 不是 YYYY-MM 格式的月份"),
    ("must be {} or more", "须不小于 {}"),
    ("this category is already a topic of {}-{}", "该类别已是 {}-{} 的每月一题"),
    ("name at least one unit to summon", "请至少选择一个要召集的单位"),
    ("the lead unit already handles the case: summon the others", "主办单位已在办理：请召集其他单位"),
    ("unknown attachment {}; upload it first", "附件 {} 不存在，请先上传"),
    ("no such case", "没有这个工单"),
    ("no such article", "没有这篇知识"),
    ("the location lies in another grid", "位置在另一个网格内"),
    (
        "an inspector reports in their own grids: place the case in one",
        "监督员只在自己负责的网格内上报：请把位置放在其中",
    ),
    ("only JPEG, PNG, GIF, WebP images and PDF documents are accepted", "只接受 JPEG、PNG、GIF、WebP 图片和 PDF 文档"),
    ("residents submit through web, app or sms", "市民只能通过网站、App 或短信提交"),
    ("hotline calls are recorded by the hotline's staff", "热线来电由热线工作人员登记"),
    ("grid inspectors report through the inspector channel", "网格监督员须通过“监督员上报”渠道上报"),
    ("open{} is the channel of client applications", "open{} 是接入应用专用的渠道"),
    (
        "names no known community or street: give a point (latitude and longitude) or a grid code",
        "不是已知的社区或街道：请给出位置（经纬度，可在地图上选点）或网格编码",
    ),
    ("a case cannot be merged into itself", "工单不能并入自己"),
    ("the master case must be open and not itself merged", "主工单须未办结且本身未被合并"),
    ("give either {} or {}", "请填写 {} 或 {} 之一"),
    (
        "lies outside the city: check the point ({}, {} is a phone without a fix) or give an address",
        "位于本市范围之外：请检查所选位置（{}, {} 表示手机未能定位），或填写地址",
    ),
    (
        "an extension may add at most the original limit ({} hours (continuous))",
        "延期最多增加原时限（{}小时，连续计时）",
    ),
    (
        "an extension may add at most the original limit ({} hour (continuous))",
        "延期最多增加原时限（{}小时，连续计时）",
    ),
    ("an extension may add at most the original limit ({} working hours)", "延期最多增加原时限（{}个工作时）"),
    ("an extension may add at most the original limit ({} working hour)", "延期最多增加原时限（{}个工作时）"),
    ("an extension may add at most the original limit ({} working days)", "延期最多增加原时限（{}个工作日）"),
    ("an extension may add at most the original limit ({} working day)", "延期最多增加原时限（{}个工作日）"),
    ("an extension may add at most the original limit ({} calendar days)", "延期最多增加原时限（{}个自然日）"),
    ("an extension may add at most the original limit ({} calendar day)", "延期最多增加原时限（{}个自然日）"),
    ("must be at least {}", "至少为 {}"),
    ("must be within {} days", "须在 {} 天以内"),
    ("is required: an inspector reports where the problem is", "必填：监督员上报须给出问题所在位置"),
    ("is required when the check fails: say what is left to do", "核查不通过时必填：请写明还需处理什么"),
    (
        "is required: {}, the catalogue's unit, returned this case ({})",
        "必填：目录指定的 {} 已退回本案（{}），请另选单位",
    ),
    // Why a move does not apply to a case now.
    ("a case can be extended at most twice", "一件工单最多延期两次"),
    ("a case can be suspended only once", "一件工单只能挂账一次"),
    ("a merged case is reopened through its master case", "已合并的工单随主工单重办"),
    ("a request is already waiting for the dispatcher", "已有一项申请等待派遣员审批"),
    ("no extension request is waiting", "没有待审批的延期申请"),
    ("no suspension request is waiting", "没有待审批的挂账申请"),
    (
        "the case has no grid: an inspector verifies on site, in their own grids",
        "工单没有网格：监督员只在自己的网格现场核实",
    ),
    ("the resident has already rated this case", "市民已评价过此工单"),
    ("this merged case was already revisited", "此合并工单已回访"),
    ("only merged cases are revisited outside the feedback step", "只有已合并的工单可在处置反馈之外回访"),
    ("the case was never handled", "此工单尚未办理"),
    ("already overdue or without deadline", "已超期或没有处置时限"),
    ("is required when the problem is not found: say what was found", "核实不属实时必填：请写明现场所见"),
    ("is required, at most {} characters", "必填，最多 {} 个字"),
    ("the header must name title and body", "表头须包含 title 和 body 两列"),
    ("text before the first {} heading", "第一个 {} 标题之前有正文"),
    ("no {} heading: each article starts with one", "没有 {} 标题：每篇文章以它开头"),
    (
        "{} is a private, loopback or reserved address (an administrator may allow it)",
        "{} 是内网、本机或保留地址（管理员可允许）",
    ),
    ("is not a URL such as https://example.org/hook", "不是有效网址，例如 https://example.org/hook"),
    ("must start with http:// or https://", "须以 http:// 或 https:// 开头"),
    ("has no host", "缺少主机名"),
    ("is not the account's password", "密码不正确"),
    ("does not match the code the app shows", "动态验证码不正确"),
    ("nothing is being set up: ask for a secret first", "尚未开始设置：请先获取密钥"),
    ("the secret being set up changed meanwhile: start again", "设置中的密钥已变更：请重新开始"),
    ("no active user {}", "没有在用的用户 {}"),
    ("no user {}", "没有用户 {}"),
    ("no case {}", "没有工单 {}"),
    ("no category {}", "没有类别 {}"),
    ("no unit {}", "没有单位 {}"),
    ("the case's unit has no higher unit to escalate to", "承办单位没有可提级的上级单位"),
    ("must be an RFC {} time or a date like {}-{}-{}", "须为 RFC {} 时间或日期，如 {}-{}-{}"),
    ("cannot be yes when the resident was not reached", "未联系上市民时不能选“是”"),
    ("must be unsatisfied when the resident was not reached", "未联系上市民时只能选“不满意”"),
    (
        "only consultations, praise, suggestions and other requests can be answered directly",
        "只有咨询、表扬、建议和其他类诉求可以直接答复",
    ),
    ("must be a whole number", "须为整数"),
    ("must be a number", "须为数字"),
    ("{} is not a number", "{} 不是数字"),
    ("choose one of the listed types", "请从列出的类型中选择"),
    ("is required with the latitude", "填写纬度时须同时填写经度"),
    ("attachments are limited to {} bytes", "附件不能超过 {} 字节"),
    ("attachments are limited to {} MB", "附件（照片）不能超过 {} MB"),
    ("is required with the longitude", "填写经度时须同时填写纬度"),
    ("a data recipient takes masked exports through the API", "数据使用方请通过 API 使用管理员发放的令牌获取脱敏数据"),
];

/// The shape of a message (numbers and `quoted` values as `{}`) and the values taken out of it.
fn message_shape(message: &str) -> (String, Vec<String>) {
    let mut shape = String::with_capacity(message.len());
    let mut values = Vec::new();
    let chars: Vec<char> = message.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let signed_digit =
            c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit) && (i == 0 || chars[i - 1] == ' ');
        if c.is_ascii_digit() || signed_digit {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            values.push(chars[start..i].iter().collect());
            shape.push_str("{}");
        } else if c == '`' {
            match chars[i + 1..].iter().position(|&q| q == '`') {
                Some(len) => {
                    values.push(chars[i..i + len + 2].iter().collect());
                    shape.push_str("{}");
                    i += len + 2;
                }
                None => {
                    shape.push(c);
                    i += 1;
                }
            }
        } else {
            shape.push(c);
            i += 1;
        }
    }
    (shape, values)
}

/// Messages that end in a list of the names allowed (wire names, kept as they are): each opening,
/// and its Chinese, which the list then follows.
const LISTING_MESSAGES: &[(&str, &str)] = &[
    ("{} is not one of: ", "{} 不是可选值，可选："),
    ("{} is not one of ", "{} 不是可选值，可选："),
    ("must be one of: ", "须为以下之一："),
    ("name at least one of ", "请至少选择一项："),
    ("unknown event {}; known: ", "没有事件 {}，可选："),
    ("{} is not counted for {}; use one of: ", "{} 不计入 {} 的考核，可选："),
];

/// The Chinese template of a message's shape, if one is known.
fn chinese_template(shape: &str) -> Option<String> {
    if let Some((_, zh)) = FIELD_MESSAGES.iter().find(|(en, _)| *en == shape) {
        return Some(zh.to_string());
    }
    LISTING_MESSAGES.iter().find_map(|(en, zh)| shape.strip_prefix(en).map(|list| format!("{zh}{list}")))
}

/// A use case's message in the interface language, or `None` where Chinese has no translation of it.
pub fn translated_message(tr: &Tr, message: &str) -> Option<String> {
    let known = chinese_template(&message_shape(message).0).is_some();
    (tr.lang == Lang::En || known || !message.chars().any(|c| c.is_ascii_alphabetic()))
        .then(|| field_message(tr, message))
}

/// A field error in the interface language where a translation is known.
pub fn field_message(tr: &Tr, message: &str) -> String {
    let (shape, values) = message_shape(message);
    // The use cases quote values in backticks, as the API shows them; a page uses its language's quotes.
    let (open, close) = if tr.lang == Lang::En { ("“", "”") } else { ("「", "」") };
    let shown = |value: String| match value.strip_prefix('`').and_then(|v| v.strip_suffix('`')) {
        Some(quoted) => format!("{open}{quoted}{close}"),
        None => value,
    };
    let template = match chinese_template(&shape) {
        Some(zh) if tr.lang == Lang::Zh => zh,
        _ => shape.clone(),
    };
    let mut out = String::with_capacity(template.len() + message.len());
    let mut values = values.into_iter();
    let mut parts = template.split("{}");
    out.push_str(parts.next().unwrap_or_default());
    for part in parts {
        out.push_str(&values.next().map(shown).unwrap_or_default());
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_translated_message_is_written_as_its_own_shape() {
        for (en, _) in FIELD_MESSAGES {
            assert_eq!(message_shape(en).0, *en, "numbers and `quoted` values are written as {{}}");
        }
    }

    #[test]
    fn field_errors_read_in_chinese_with_their_numbers_and_values() {
        let zh = Tr::default();
        assert_eq!(field_message(&zh, "is required"), "必填");
        // A message that lists the names allowed keeps the list as it is.
        assert_eq!(
            field_message(&zh, "`bogus` is not one of open, task, topic, dismissed"),
            "「bogus」 不是可选值，可选：open, task, topic, dismissed"
        );
        assert_eq!(field_message(&zh, "must be one of: a, b"), "须为以下之一：a, b");
        assert_eq!(field_message(&zh, "this category is already a topic of 2026-12"), "该类别已是 2026-12 的每月一题");
        assert_eq!(field_message(&zh, "is longer than 200 characters"), "不能超过 200 个字");
        assert_eq!(field_message(&zh, "username `admin` is taken"), "用户名 「admin」 已被占用");
        assert_eq!(field_message(&zh, "must be a latitude between -90 and 90"), "纬度须在 -90 到 90 之间");
        assert_eq!(field_message(&zh, "must be a date like 2026-10-01"), "请输入日期，如 2026-10-01");
        assert_eq!(
            field_message(&zh, "hotline calls are recorded by the hotline's staff"),
            "热线来电由热线工作人员登记"
        );
        assert_eq!(field_message(&zh, "open311 is the channel of client applications"), "open311 是接入应用专用的渠道");
        assert_eq!(field_message(&zh, "something new"), "something new", "unknown shapes stay as they are");
        let en = Tr { lang: Lang::En };
        assert_eq!(field_message(&en, "is longer than 200 characters"), "is longer than 200 characters");
        assert_eq!(field_message(&en, "unknown grid `123`"), "unknown grid “123”", "quoted in the page's language");
        assert_eq!(field_message(&zh, "unknown grid `123`"), "没有网格 「123」");
        assert_eq!(translated_message(&zh, "the desk is for dispatchers"), None, "no English in a Chinese page");
        assert_eq!(
            translated_message(&en, "the desk is for dispatchers").as_deref(),
            Some("the desk is for dispatchers")
        );
        // Every translation puts back as many values as its message takes out.
        for (en, zh) in FIELD_MESSAGES {
            assert_eq!(en.matches("{}").count(), zh.matches("{}").count(), "{en}");
        }
    }

    #[test]
    fn english_labels_are_readable_and_keys_have_both_languages() {
        let en = Tr { lang: Lang::En };
        assert_eq!(en.label(cityloop_domain::State::PendingSign), "Awaiting acceptance");
        assert_eq!(Tr::default().label(cityloop_domain::State::PendingSign), "待签收");
        assert_eq!(en.label(cityloop_domain::enums::Channel::Sms), "SMS");
        assert_eq!(en.get("nav.intake"), "Intake");
        assert_eq!(Tr::default().get("no.such.key"), "?");
        for (key, zh, en) in MESSAGES {
            assert!(!zh.is_empty() && !en.is_empty(), "{key}");
        }
        let mut keys: Vec<_> = MESSAGES.iter().map(|m| m.0).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "a key is defined twice");
    }

    #[test]
    fn every_key_used_by_a_template_is_defined() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut missing = Vec::new();
        let mut stack = vec![dir];
        let mut seen = 0;
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("templates dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("template");
                for part in text.split(".get(\"").skip(1) {
                    let key = part.split('"').next().unwrap_or_default();
                    seen += 1;
                    if !known_key(key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(seen > 50, "the templates should use the table ({seen} uses found)");
        assert!(missing.is_empty(), "keys missing from the table: {missing:?}");
    }
}
