//! Concurrent edits, as an app shows them: every value a field holds, with who wrote it and
//! when. `current` is the value every device shows; `others` are the concurrent values it won
//! over (empty unless two people set the field offline at once).
//!
//! uniffi records cannot be generic, so each value type that can conflict has its own pair
//! (`WrittenText` + `TextVersions`, ...), all made by one macro from the core's
//! `Versions<T>`.

use fieldsync_core::{EventRecord, NewProductZone, StandardCheck, Versions, Written};

use crate::complaint::EventEntryRecord;
use crate::shelf_display::{NewProductZoneRecord, StandardCheckRecord};
use crate::task::TaskState;
use crate::time::Instant;

macro_rules! versions {
    ($written:ident, $versions:ident, $core:ty, $ffi:ty, $doc_written:literal, $doc_versions:literal) => {
        #[doc = $doc_written]
        #[derive(Debug, Clone, PartialEq, uniffi::Record)]
        pub struct $written {
            pub value: $ffi,
            pub by: String,
            pub at: Instant,
        }

        #[doc = $doc_versions]
        #[derive(Debug, Clone, PartialEq, uniffi::Record)]
        pub struct $versions {
            pub current: $written,
            pub others: Vec<$written>,
            /// Whether people set the field concurrently (`others` is not empty).
            pub conflict: bool,
        }

        impl From<Written<$core>> for $written {
            fn from(w: Written<$core>) -> Self {
                $written {
                    value: w.value.into(),
                    by: w.by,
                    at: Instant::from(w.at),
                }
            }
        }

        impl From<Versions<$core>> for $versions {
            fn from(v: Versions<$core>) -> Self {
                $versions {
                    conflict: v.is_conflict(),
                    current: v.current.into(),
                    others: v.others.into_iter().map(Into::into).collect(),
                }
            }
        }
    };
}

versions!(
    WrittenText,
    TextVersions,
    String,
    String,
    "One value of a text field, with who wrote it and when.",
    "Every value of a text field: the current one and concurrent others."
);
versions!(
    WrittenBool,
    BoolVersions,
    bool,
    bool,
    "One value of a yes/no field, with who wrote it and when.",
    "Every value of a yes/no field: the current one and concurrent others."
);
versions!(
    WrittenCount,
    CountVersions,
    i64,
    i64,
    "One value of a number field, with who wrote it and when.",
    "Every value of a number field: the current one and concurrent others."
);
versions!(
    WrittenStandardCheck,
    StandardCheckVersions,
    StandardCheck,
    StandardCheckRecord,
    "One verdict on a display standard, with who wrote it and when.",
    "Every verdict on a display standard: the current one and concurrent others."
);
versions!(
    WrittenZone,
    ZoneVersions,
    NewProductZone,
    NewProductZoneRecord,
    "One state of the new-product zone, with who wrote it and when.",
    "Every state of the new-product zone: the current one and concurrent others."
);
versions!(
    WrittenEventEntry,
    EventEntryVersions,
    EventRecord,
    EventEntryRecord,
    "One recording of a complaint event, with who recorded it and when.",
    "Every recording of a complaint event: the current one and concurrent others."
);
versions!(
    WrittenTaskState,
    TaskStateVersions,
    fieldsync_core::TaskState,
    TaskState,
    "One state of a rectification task, with who set it and when.",
    "Every state of a task: the current one and concurrent moves by others."
);
versions!(
    WrittenScore,
    ScoreVersions,
    f64,
    f64,
    "One score of a scorecard dimension, with who gave it and when.",
    "Every score of a dimension: the current one and concurrent others."
);
