//! The console's words in Simplified Chinese (the default) and English.
//!
//! The language is a cookie set by `/console/lang/{zh|en}`; without it, Chinese. A key with
//! no entry shows as itself, which a test would notice.

use axum::http::HeaderMap;

/// A language of the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// The cookie that keeps the language chosen.
pub const LANG_COOKIE: &str = "fieldsync_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language switched to by the link in the header.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }

    /// `zh` or `en` as in the switch's path; anything else is not a language.
    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language a request's cookie chose, Chinese without one.
    pub fn of(headers: &HeaderMap) -> Lang {
        super::session::cookie(headers, LANG_COOKIE)
            .and_then(|v| Lang::parse(&v))
            .unwrap_or(Lang::Zh)
    }
}

/// (key, Chinese, English).
const WORDS: &[(&str, &str, &str)] = &[
    ("console", "督察考评控制台", "Supervision console"),
    ("overview", "区域总览", "District overview"),
    ("fleet", "设备", "Devices"),
    ("assessment", "月度考核", "Monthly assessment"),
    ("sign_in", "登录", "Sign in"),
    ("sign_out", "退出", "Sign out"),
    ("code", "一次性登录码", "One-time sign-in code"),
    (
        "code_help",
        "请向管理员索取登录码（admin console-code 用户名）。每个码只能使用一次。",
        "Ask an admin for a code (admin console-code USER). Each code works once.",
    ),
    (
        "refused_role",
        "控制台仅供督察考评小组和管理员使用。",
        "The console is for the supervision team and admins only.",
    ),
    (
        "refused_code",
        "登录码无效、已使用或已过期。",
        "This code is unknown, used or expired.",
    ),
    (
        "refused_throttle",
        "尝试次数过多，请稍后再试。",
        "Too many attempts: try again in a minute.",
    ),
    (
        "refused_form",
        "表单已过期，请重新打开登录页。",
        "The form has expired: open the sign-in page again.",
    ),
    ("manager", "客户经理", "Account manager"),
    ("stores", "零售户", "Stores"),
    (
        "r1_covered",
        "本周应访门店 (R1)",
        "Stores owed a visit this week (R1)",
    ),
    (
        "r1_unvisited",
        "本周尚未走访 (R1)",
        "Not yet visited this week (R1)",
    ),
    ("r1_visited", "本周已访", "Visited this week"),
    (
        "r9_visits",
        "本月走访/最低 (R9)",
        "Visits this month / minimum (R9)",
    ),
    ("r9_below", "未达最低次数 (R9)", "Stores below minimum (R9)"),
    (
        "r1_weeks",
        "本月漏访店周/已结束周 (R1)",
        "Store-weeks missed / weeks ended this month (R1)",
    ),
    (
        "r6",
        "示范街标准不合格 (R6)",
        "Demo-street displays failing a standard now (R6)",
    ),
    ("r8", "本月驻店培训日 (R8)", "Training days this month (R8)"),
    (
        "unsynced",
        "以下客户经理的手机一天以上未同步，其数据可能不全（最后同步）",
        "No phone of these account managers has synced for over a day, so their figures may lack what is still on a phone (last sync)",
    ),
    (
        "r5_unchecked",
        "示范街今日未检 (R5)",
        "Demo street not checked today (R5)",
    ),
    (
        "r5_unwalked",
        "示范街本周未走访 (R5)",
        "Demo street not walked this week (R5)",
    ),
    (
        "r5_sampled",
        "示范街本月抽查/门店 (R5)",
        "Demo street sampled this month / stores (R5)",
    ),
    ("r2", "价签缺失>3 (R2)", "Displays missing >3 tags (R2)"),
    ("r3", "库存误差>10% (R3)", "Terminals >10% count error (R3)"),
    (
        "r7",
        "功能终端跟进/未完成 (R7)",
        "Terminal follow-ups / not done (R7)",
    ),
    ("tasks", "整改任务 未结/逾期", "Tasks open / overdue"),
    (
        "clocks",
        "服务承诺 进行/达成/超时 (R9)",
        "Service clocks running / met / breached (R9)",
    ),
    ("r10", "诉求未答复 (R10)", "Requests unanswered (R10)"),
    (
        "r4_spot_checked",
        "本月督查门店/门店 (R4)",
        "Stores spot-checked this month / stores (R4)",
    ),
    ("r4", "月度评分 (R4)", "Scorecard (R4)"),
    (
        "scorecards_many",
        "份评分（取第一份）",
        "scorecards (the first counts)",
    ),
    ("rating_excellent", "优秀", "excellent"),
    ("rating_good", "良好", "good"),
    ("rating_qualified", "合格", "qualified"),
    ("rating_unqualified", "不合格", "unqualified"),
    ("pass", "合格", "pass"),
    ("fail", "考核", "assessment"),
    ("bonus", "标杆加分", "bonus"),
    ("none", "—", "—"),
    ("week_of", "周", "week of"),
    ("month", "月份", "month"),
    ("as_of", "统计日", "as of"),
    ("coverage_chart", "每周走访覆盖率", "Weekly visit coverage"),
    ("trend_chart", "每月走访次数趋势", "Visits per month"),
    (
        "clocks_chart",
        "服务承诺时限（本月） (R9)",
        "Service clocks this month (R9)",
    ),
    (
        "violations_chart",
        "每月违规情况（全区）",
        "Violations per month (district)",
    ),
    ("v_price_tags", "缺价签超3个", "R2 >3 tags missing"),
    ("v_counts", "盘点误差超10%", "R3 count >10% off"),
    ("v_clocks", "投诉时限超时", "R9 clocks breached"),
    ("v_geofence", "签到超出范围", "visits out of fence"),
    ("v_below_minimum", "走访未达最低次数", "R9 below minimum"),
    ("photos", "照片", "Photos"),
    ("photo_not_uploaded", "尚未上传", "not yet uploaded"),
    (
        "photo_attached_first_by",
        "同一照片已由他人先使用：",
        "the same photo was first attached by",
    ),
    ("store", "零售户", "Store"),
    ("licence", "许可证号", "Licence"),
    ("address", "地址", "Address"),
    ("code_class", "业态", "Class"),
    ("rating", "功能终端评级", "Terminal rating"),
    ("display_now", "当前陈列", "Shelf display now"),
    ("display_as_of", "陈列（截至）", "Shelf display as of"),
    ("standard", "标准", "Standard"),
    ("verdict", "结果", "Verdict"),
    ("by", "人员", "By"),
    ("when", "时间", "When"),
    ("product", "品规", "Product"),
    ("price_tag", "价签", "Price tag"),
    ("missing", "缺失", "missing"),
    ("present", "有", "present"),
    ("history", "修改记录", "History: who changed what"),
    ("what", "内容", "What"),
    ("visits", "走访", "Visits"),
    ("kind", "类型", "Kind"),
    ("check_in", "签到", "Check-in"),
    ("check_out", "签退", "Check-out"),
    ("geofence", "位置", "Geofence"),
    ("in_range", "范围内", "in range"),
    ("out_of_range", "超出范围", "OUT of range"),
    ("no_gps", "无定位", "no GPS"),
    ("distance", "距离", "distance"),
    ("tasks_title", "整改任务", "Rectification tasks"),
    ("deadline", "期限", "Deadline"),
    ("state", "状态", "State"),
    ("complaints", "投诉与服务请求", "Complaints and requests"),
    ("received", "受理时间", "Received"),
    ("clock", "时限", "Clock"),
    ("counts", "库存盘点", "Inventory counts"),
    ("error_rate", "误差率", "Error rate"),
    ("scorecards", "评分表", "Scorecards"),
    ("total", "总分", "Total"),
    ("outcome", "结果", "Outcome"),
    ("device", "设备", "Device"),
    ("user", "用户", "User"),
    ("enrolled", "注册时间", "Enrolled"),
    ("last_sync", "最近同步", "Last sync"),
    ("revoked", "已停用", "revoked"),
    ("never", "从未", "never"),
    ("stale", "长时间未同步", "silent"),
    ("device_name", "设备名称", "Device name"),
    ("app_version", "应用版本", "App version"),
    ("protocol", "协议版本", "Protocol"),
    (
        "pending_edits",
        "待上传修改（文档）",
        "Pending edits (documents)",
    ),
    (
        "rejected_docs",
        "被拒文档（手机 / 服务器累计）",
        "Rejected documents (phone / server, in all)",
    ),
    ("clock_drift", "时钟偏差", "Clock drift"),
    ("not_reported", "未上报", "not reported"),
    (
        "silent_days",
        "未同步天数达到即标出",
        "Highlight devices silent for (days)",
    ),
    ("show", "显示", "Show"),
    (
        "fleet_note",
        "待上传、被拒数和应用版本由手机在同步请求中上报，仅供显示；时钟偏差 = 手机时间 − 服务器收到时间（正数表示手机快）。",
        "Pending, rejected and app version are reported by the phones in their sync requests, for display only; clock drift = device time − the server's receive time (positive: the phone is ahead).",
    ),
    ("export_csv", "导出 CSV", "Export CSV"),
    ("print", "打印本页", "Print this page"),
    (
        "damaged",
        "无法读取的文档（未计入）",
        "Documents that cannot be read (left out)",
    ),
    ("document", "文档", "Document"),
    ("reason", "原因", "Reason"),
    (
        "reused_photos",
        "多次用作凭证的照片",
        "Photos used as evidence more than once",
    ),
    (
        "reused_note",
        "同一张照片出现在不同零售户或不同日期的走访中（旧照片冒充新照片）。列出本月有一次使用的照片，及其每一次使用；日期为拍摄日期，无则为添加日期（UTC）。",
        "The same photo in visits of different stores or on different days (an old photo passed off as new): each photo with a use in the month, with every use; the day is the day it was taken, else added (UTC).",
    ),
    ("photo", "照片", "Photo"),
    ("visit", "走访", "Visit"),
    ("photo_day", "日期", "Day"),
    ("computed_in", "计算耗时", "computed in"),
    (
        "figures_note",
        "数字由手机端同一套规则代码计算。",
        "Figures come from the same rule code the phones run.",
    ),
    ("not_found", "未找到", "Not found"),
    ("attention", "需关注的零售户", "Stores behind the figures"),
    (
        "attention_none",
        "没有零售户计入这些数字。",
        "No store counts in any of these figures.",
    ),
    ("why_listed", "计入", "Counts in"),
    (
        "r9_made_of_min",
        "本月走访 {made}/{min} 次，未达最低 (R9)",
        "{made} of the month's {min} visits (R9)",
    ),
    ("task_overdue", "整改任务逾期", "Task overdue"),
    (
        "clock_breached",
        "本月服务承诺超时 (R9)",
        "Service clock breached this month (R9)",
    ),
    (
        "error_request",
        "请求有误",
        "This request cannot be answered",
    ),
    ("error_forbidden", "无权访问", "Not allowed"),
    (
        "error_busy",
        "服务器繁忙，请稍后再试",
        "The server is busy: try again shortly",
    ),
    ("error_server", "服务器出错", "The server failed"),
    (
        "not_found_explain",
        "这个地址没有对应的页面，或所指的零售户、客户经理不在本区域。",
        "No page answers this address, or the store or account manager it names is not in this district.",
    ),
    (
        "error_request_explain",
        "地址或其中的值有误，例如日期不存在或在今天之后。",
        "The address or one of its values is wrong: a date that does not exist or is still to come, for example.",
    ),
    (
        "error_forbidden_explain",
        "您的账号不能查看这个页面，或登录已过期，请重新登录。",
        "Your account may not open this page, or your session has ended: sign in again.",
    ),
    (
        "error_busy_explain",
        "同步优先：请稍候片刻再刷新。",
        "Phones' syncs come first: reload in a moment.",
    ),
    (
        "error_server_explain",
        "服务器处理时出错，错误已记入服务器日志，请告知管理员。",
        "The server failed while answering; the failure is in its log: tell the administrator.",
    ),
    (
        "error_detail",
        "服务器的说明（英文）",
        "What the server said",
    ),
    (
        "back_to_overview",
        "返回区域总览",
        "Back to the district overview",
    ),
    ("running", "进行中", "running"),
    ("met", "达成", "met"),
    ("breached", "超时", "BREACHED"),
    ("not_started", "未开始", "not started"),
    ("not_applicable", "不适用", "n/a"),
];

/// A table of words: (key, Chinese, English).
pub type Words = [(&'static str, &'static str, &'static str)];

/// The words for `key` in `lang` in table `words`, if it has an entry.
pub fn look_up(words: &Words, lang: Lang, key: &str) -> Option<&'static str> {
    words
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => *zh,
            Lang::En => *en,
        })
}

/// The word for `key` in `lang` (the key itself if it has none).
pub fn t(lang: Lang, key: &'static str) -> &'static str {
    look_up(WORDS, lang, key).unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_has_both_languages_and_keys_are_unique() {
        let mut keys = std::collections::HashSet::new();
        for (key, zh, en) in WORDS {
            assert!(keys.insert(*key), "`{key}` twice");
            assert!(!zh.is_empty() && !en.is_empty(), "`{key}` lacks a language");
        }
        assert_eq!(t(Lang::En, "sign_in"), "Sign in");
        assert_eq!(t(Lang::Zh, "sign_in"), "登录");
    }
}
