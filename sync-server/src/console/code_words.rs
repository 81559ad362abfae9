//! The words for the codes documents store (a visit's kind, a task's state, a complaint's
//! kind and events, a display standard, a terminal's rating), so that a page in Chinese
//! says 督查抽检 where the document says `supervision_spot_check`.

use fieldsync_core::{
    ComplaintEvent, ComplaintKind, DisplayStandard, TaskState, TerminalRating, VisitKind,
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
}
