//! The words for the codes documents store (a visit's kind, a task's state, a complaint's
//! kind and events, a display standard, a terminal's rating), so that a page in Chinese
//! says 督查抽检 where the document says `supervision_spot_check`.

use fieldsync_core::{
    ComplaintEvent, ComplaintKind, DisplayStandard, DocKind, Role, TaskState, TerminalRating,
    VisitKind,
};

use super::i18n::{Lang, look_up};

/// (code, Chinese, English) for one kind of code.
type Words = &'static super::i18n::Words;

const VISIT_KINDS: Words = &[
    ("routine", "日常走访", "routine visit"),
    ("demo_street_daily", "示范街日检", "demo-street daily check"),
    ("market_walkthrough", "市场部走访", "market team walk"),
    (
        "supervision_spot_check",
        "督查抽检",
        "supervision spot check",
    ),
    ("training_day", "驻店培训日", "in-store training day"),
    ("complaint_on_site", "投诉现场处理", "complaint on site"),
];

const TASK_STATES: Words = &[
    ("open", "待整改", "open"),
    ("in_progress", "整改中", "in progress"),
    ("submitted", "待验收", "submitted for verification"),
    ("verified", "已验收", "verified"),
    ("reopened", "重新整改", "reopened"),
];

const COMPLAINT_KINDS: Words = &[
    ("complaint", "投诉", "complaint"),
    ("damaged_cartons", "残损卷烟", "damaged cartons"),
    ("wrong_deduction", "扣款错误", "wrong deduction"),
    ("request", "服务诉求", "request"),
];

const COMPLAINT_EVENTS: Words = &[
    ("on_site", "到场", "on site"),
    ("handled", "处理完毕", "handled"),
    ("callback", "回访", "callback"),
    ("replaced", "更换", "replaced"),
    ("refunded", "退款", "refunded"),
    ("replied", "答复", "replied"),
    ("visited", "上门走访", "visited"),
    (
        "satisfaction_callback",
        "满意度回访",
        "satisfaction callback",
    ),
];

const STANDARDS: Words = &[
    ("price_tag_box", "价签盒", "price-tag box"),
    ("price_tags", "价签齐全", "price tags"),
    ("new_product_zone", "新品陈列区", "new-product zone"),
    ("unified_display", "统一陈列", "unified display"),
    ("pack_display", "盒装陈列", "pack display"),
    ("carton_display", "条装陈列", "carton display"),
    ("tidy_counter", "柜台整洁", "tidy counter"),
    ("bright_storefront", "门头明亮", "bright storefront"),
];

const RATINGS: Words = &[
    ("excellent", "优秀", "excellent"),
    ("good", "良好", "good"),
    ("qualified", "合格", "qualified"),
    ("unqualified", "不合格", "unqualified"),
];

/// The words for `code`, or the code itself when it has none (a test makes sure none lacks).
fn word(words: Words, lang: Lang, code: &'static str) -> &'static str {
    look_up(words, lang, code).unwrap_or(code)
}

const ROLES: Words = &[
    ("account_manager", "客户经理", "account manager"),
    ("market_team", "市场部", "market team"),
    ("supervisor", "督察考评", "supervisor"),
    ("admin", "管理员", "admin"),
];

const DOC_KINDS: Words = &[
    ("store", "零售户", "store"),
    ("shelf_display", "陈列", "shelf display"),
    ("visit", "走访", "visit"),
    ("inventory_count", "库存盘点", "inventory count"),
    ("scorecard", "评分表", "scorecard"),
    ("task", "整改任务", "task"),
    ("complaint", "投诉", "complaint"),
];

const VERDICTS: Words = &[
    ("pass", "合格", "pass"),
    ("fail", "不合格", "fail"),
    ("na", "不适用", "n/a"),
];

/// The edits a store's and its display's history name, as the phones' core writes them.
const EDITS: Words = &[
    ("add photo", "添加照片", "add photo"),
    ("update contact", "更新联系方式", "update contact"),
    (
        "update classification",
        "更新业态分类",
        "update classification",
    ),
];

/// What an entry of a store's or display's history did, in `lang`: the texts the phones'
/// core writes (`create store`, `check: price_tags fail, 6901028001 tag missing`,
/// `reassign to am-li`) in words; any other text as it was written (it is a device's).
pub fn history(lang: Lang, what: &str) -> String {
    if lang == Lang::En {
        return what.to_owned();
    }
    if let Some(kind) = what.strip_prefix("create ")
        && let Some(word) = look_up(DOC_KINDS, lang, kind)
    {
        return format!("创建{word}");
    }
    if let Some(to) = what.strip_prefix("reassign to ") {
        return format!("改派给 {to}");
    }
    if let Some(parts) = what.strip_prefix("check: ") {
        let parts: Vec<String> = parts.split(", ").map(|p| check_part(lang, p)).collect();
        return format!("检查：{}", parts.join("，"));
    }
    look_up(EDITS, lang, what).map_or_else(|| what.to_owned(), str::to_owned)
}

/// One part of a display check's history text, in words when it is one the core writes.
fn check_part(lang: Lang, part: &str) -> String {
    let words: Vec<&str> = part.split(' ').collect();
    match words.as_slice() {
        [sku, "removed"] => format!("{sku} 已撤下"),
        [standard, verdict] => match (
            look_up(STANDARDS, lang, standard),
            look_up(VERDICTS, lang, verdict),
        ) {
            (Some(s), Some(v)) => format!("{s} {v}"),
            _ => part.to_owned(),
        },
        [sku, "tag", "missing"] => format!("{sku} 价签缺失"),
        [sku, "tag", "present"] => format!("{sku} 有价签"),
        ["new-product", "zone", "present"] => "新品陈列区 有".into(),
        ["new-product", "zone", "absent"] => "新品陈列区 无".into(),
        _ => part.to_owned(),
    }
}

pub fn role(lang: Lang, role: Role) -> &'static str {
    word(ROLES, lang, role.code())
}

pub fn visit_kind(lang: Lang, kind: VisitKind) -> &'static str {
    word(VISIT_KINDS, lang, kind.code())
}

pub fn task_state(lang: Lang, state: TaskState) -> &'static str {
    word(TASK_STATES, lang, state.code())
}

pub fn complaint_kind(lang: Lang, kind: ComplaintKind) -> &'static str {
    word(COMPLAINT_KINDS, lang, kind.code())
}

pub fn complaint_event(lang: Lang, event: ComplaintEvent) -> &'static str {
    word(COMPLAINT_EVENTS, lang, event.code())
}

pub fn standard(lang: Lang, standard: DisplayStandard) -> &'static str {
    word(STANDARDS, lang, standard.code())
}

pub fn rating(lang: Lang, rating: TerminalRating) -> &'static str {
    word(RATINGS, lang, rating.code())
}

pub fn doc_kind(lang: Lang, kind: DocKind) -> &'static str {
    word(DOC_KINDS, lang, kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of every kind has words in both languages (a code added to core without
    /// words would show as itself: this fails first).
    #[test]
    fn every_stored_code_has_words_in_both_languages() {
        let ratings = [
            TerminalRating::Excellent,
            TerminalRating::Good,
            TerminalRating::Qualified,
            TerminalRating::Unqualified,
        ];
        let codes: Vec<(Words, &str)> = VisitKind::ALL
            .iter()
            .map(|k| (VISIT_KINDS, k.code()))
            .chain(TaskState::ALL.iter().map(|s| (TASK_STATES, s.code())))
            .chain(
                ComplaintKind::ALL
                    .iter()
                    .map(|k| (COMPLAINT_KINDS, k.code())),
            )
            .chain(
                ComplaintEvent::ALL
                    .iter()
                    .map(|e| (COMPLAINT_EVENTS, e.code())),
            )
            .chain(DisplayStandard::ALL.iter().map(|s| (STANDARDS, s.code())))
            .chain(ratings.iter().map(|r| (RATINGS, r.code())))
            .chain(Role::ALL.iter().map(|r| (ROLES, r.code())))
            .chain(DocKind::ALL.iter().map(|k| (DOC_KINDS, k.as_str())))
            .collect();
        for lang in [Lang::Zh, Lang::En] {
            for (words, code) in &codes {
                let found = look_up(words, lang, code);
                assert!(
                    found.is_some_and(|w| !w.is_empty() && !w.contains('_')),
                    "`{code}` has no words in {lang:?}"
                );
            }
        }
        assert_eq!(
            visit_kind(Lang::Zh, VisitKind::SupervisionSpotCheck),
            "督查抽检"
        );
    }

    #[test]
    fn a_history_entry_the_core_writes_reads_in_chinese_and_any_other_text_stays_as_written() {
        assert_eq!(history(Lang::Zh, "create shelf_display"), "创建陈列");
        assert_eq!(
            history(
                Lang::Zh,
                "check: price_tags fail, tidy_counter na, 6901028001 tag missing, new-product zone present"
            ),
            "检查：价签齐全 不合格，柜台整洁 不适用，6901028001 价签缺失，新品陈列区 有"
        );
        assert_eq!(history(Lang::Zh, "reassign to am-li"), "改派给 am-li");
        assert_eq!(history(Lang::Zh, "update contact"), "更新联系方式");
        assert_eq!(
            history(Lang::Zh, "create <b>"),
            "create <b>",
            "unknown: as written"
        );
        assert_eq!(history(Lang::Zh, "check: odd words"), "检查：odd words");
        assert_eq!(
            history(Lang::Zh, "check: 6901 removed"),
            "检查：6901 已撤下"
        );
        assert_eq!(history(Lang::En, "create store"), "create store");
    }
}
