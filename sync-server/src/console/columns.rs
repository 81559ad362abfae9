//! The assessment's columns in words: the CSV keeps `admin report`'s column codes (what a
//! spreadsheet or a script reads), the printable page heads each column with what it
//! counts, in the console's language, with its rule.

use super::i18n::{Lang, look_up};
use crate::admin::report::COLUMNS;

/// (column code, Chinese, English), one entry for each of [`COLUMNS`], in their order.
const TITLES: [(&str, &str, &str); 32] = [
    ("manager", "客户经理账号", "Account manager (user)"),
    ("name", "姓名", "Name"),
    ("month", "月份", "Month"),
    ("stores", "零售户数", "Stores"),
    (
        "r1_due_this_week",
        "本周尚未走访 (R1)",
        "Not yet visited this week (R1)",
    ),
    (
        "r1_weeks_judged",
        "本月已结束周数 (R1)",
        "Weeks ended this month (R1)",
    ),
    (
        "r1_store_weeks_missed",
        "本月漏访店周 (R1)",
        "Store-weeks missed this month (R1)",
    ),
    (
        "r2_price_tag_violations",
        "价签缺失超3个的陈列 (R2)",
        "Displays missing more than 3 tags (R2)",
    ),
    (
        "r3_count_findings",
        "库存误差超10%的盘点 (R3)",
        "Counts more than 10% off (R3)",
    ),
    ("r4_total", "月度评分总分 (R4)", "Scorecard total (R4)"),
    ("r4_passes", "评分合格 (R4)", "Scorecard passes (R4)"),
    ("r4_bonus", "标杆加分 (R4)", "Benchmark bonus (R4)"),
    (
        "r4_scorecards",
        "本月评分表份数 (R4)",
        "Scorecards this month (R4)",
    ),
    (
        "r4_stores_spot_checked",
        "本月督查门店数 (R4)",
        "Stores spot-checked this month (R4)",
    ),
    (
        "r5_demo_street_unchecked",
        "示范街今日未检 (R5)",
        "Demo street not checked today (R5)",
    ),
    (
        "r5_demo_street_unwalked",
        "示范街本周未走访 (R5)",
        "Demo street not walked this week (R5)",
    ),
    (
        "r5_store_weeks_unwalked",
        "本月示范街漏走店周 (R5)",
        "Demo-street store-weeks unwalked this month (R5)",
    ),
    (
        "r5_demo_street_stores",
        "示范街门店数 (R5)",
        "Demo-street stores (R5)",
    ),
    (
        "r5_demo_street_sampled",
        "本月示范街抽查门店 (R5)",
        "Demo-street stores sampled this month (R5)",
    ),
    (
        "r6_demo_street_failing",
        "示范街标准不合格 (R6)",
        "Demo-street displays failing a standard (R6)",
    ),
    (
        "r7_follow_ups",
        "功能终端跟进 (R7)",
        "Terminal follow-ups (R7)",
    ),
    (
        "r7_not_done",
        "功能终端跟进未完成 (R7)",
        "Terminal follow-ups not done (R7)",
    ),
    (
        "r8_training_days",
        "本月驻店培训日 (R8)",
        "Training days this month (R8)",
    ),
    (
        "r9_visits_made",
        "本月走访次数 (R9)",
        "Visits made this month (R9)",
    ),
    (
        "r9_visits_required",
        "本月最低走访次数 (R9)",
        "Visits required this month (R9)",
    ),
    (
        "r9_stores_below_minimum",
        "未达最低次数门店 (R9)",
        "Stores below the minimum (R9)",
    ),
    (
        "r9_clocks_breached",
        "本月服务承诺超时 (R9)",
        "Service clocks breached this month (R9)",
    ),
    (
        "r9_clocks_running",
        "服务承诺进行中 (R9)",
        "Service clocks running (R9)",
    ),
    (
        "r10_requests_received",
        "本月收到诉求 (R10)",
        "Requests received this month (R10)",
    ),
    (
        "r10_requests_unanswered",
        "诉求未答复 (R10)",
        "Requests unanswered (R10)",
    ),
    ("tasks_open", "整改任务未结", "Tasks open"),
    ("tasks_overdue", "整改任务逾期", "Tasks overdue"),
];

/// What column `code` counts, in `lang` (the code itself for a column without words).
pub fn title(lang: Lang, code: &'static str) -> &'static str {
    look_up(&TITLES, lang, code).unwrap_or(code)
}

/// Every column of the report, in words, in the report's order.
pub fn titles(lang: Lang) -> Vec<&'static str> {
    COLUMNS.iter().map(|code| title(lang, code)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_column_has_words_in_both_languages_in_the_reports_order() {
        let codes: Vec<&str> = TITLES.iter().map(|(c, _, _)| *c).collect();
        assert_eq!(codes, COLUMNS.to_vec(), "one entry per column, in order");
        for (code, zh, en) in TITLES {
            assert!(
                !zh.is_empty() && !en.is_empty(),
                "`{code}` lacks a language"
            );
            assert!(
                !zh.contains('_') && !en.contains('_'),
                "`{code}` shows a code"
            );
        }
        assert_eq!(title(Lang::En, "tasks_open"), "Tasks open");
        assert_eq!(titles(Lang::Zh)[0], "客户经理账号");
    }
}
