//! Store visits across the boundary: start one with a check-in, check out, notes, photos,
//! comments, links to the display and count it touched, and read it back.

use fieldsync_core as fc;

use crate::conflict::TextVersions;
use crate::error::FieldError;
use crate::parse::{self, same_variants};
use crate::store::FieldStore;
use crate::time::Instant;

/// Why the visit was made (R1, R5, R4, R8, R9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VisitKind {
    Routine,
    DemoStreetDailyCheck,
    MarketWalkthrough,
    SupervisionSpotCheck,
    TrainingDay,
    ComplaintOnSite,
}

/// The four activities of a training day (R8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TrainingActivity {
    BrandDisplay,
    NewBrandPromotion,
    InventoryAnalysis,
    OrderOptimisation,
}

/// The datum of a position: which map's degrees they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Datum {
    /// WGS-84: a GPS chip, Android's `LocationManager` and fused location provider.
    Wgs84,
    /// GCJ-02: Amap/Gaode and Tencent maps and location SDKs inside China (hundreds of
    /// metres from WGS-84). Geofence verdicts convert it to WGS-84 first.
    Gcj02,
}

/// A GPS fix: degrees in `datum`, and accuracy in metres.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct GpsFixRecord {
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: f64,
    pub datum: Datum,
}

/// A check-in or check-out as the phone records it; `gps` is null without a fix.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct CheckPointRecord {
    pub at: Instant,
    pub gps: Option<GpsFixRecord>,
}

/// A check-in or check-out as stored, with the geofence verdict (null without a fix).
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct RecordedCheckPointRecord {
    pub at: Instant,
    pub gps: Option<GpsFixRecord>,
    pub distance_m: Option<f64>,
    pub in_range: Option<bool>,
}

/// What the app gives to start a visit.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewVisitRecord {
    pub store_id: String,
    pub kind: VisitKind,
    pub check_in: CheckPointRecord,
    /// The complaint handled, for a `ComplaintOnSite` visit.
    pub complaint_id: Option<String>,
}

/// A photo reference: `sha256:` content hash, caption, who took it and when.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PhotoRecord {
    pub hash: String,
    pub caption: String,
    pub by: String,
    pub at: Instant,
}

/// A supervisor's comment on a visit.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitCommentRecord {
    pub by: String,
    pub at: Instant,
    pub text: String,
}

/// One activity of a training day with its note once recorded.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TrainingRecord {
    pub activity: TrainingActivity,
    pub note: Option<TextVersions>,
}

/// A visit as read back.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitRecord {
    pub id: String,
    pub store_id: String,
    pub visitor: String,
    pub kind: VisitKind,
    pub check_in: RecordedCheckPointRecord,
    pub check_out: Option<RecordedCheckPointRecord>,
    /// Out of the store's geofence at check-in or check-out (flagged, never blocking).
    pub out_of_range: bool,
    pub complaint_id: Option<String>,
    pub shelf_display_id: Option<String>,
    pub inventory_count_id: Option<String>,
    pub brand_promotion: String,
    pub notes: String,
    pub photos: Vec<PhotoRecord>,
    pub comments: Vec<VisitCommentRecord>,
    pub training: Vec<TrainingRecord>,
}

#[uniffi::export]
impl FieldStore {
    /// Starts a visit (checks in); returns its id.
    pub fn create_visit(&self, visit: NewVisitRecord) -> Result<String, FieldError> {
        let new = fc::NewVisit {
            store_id: parse::id("store_id", &visit.store_id)?,
            kind: visit.kind.into(),
            check_in: visit.check_in.check_point("check_in")?,
            complaint_id: visit
                .complaint_id
                .map(|c| parse::id("complaint_id", &c))
                .transpose()?,
        };
        self.create(|s| s.create_visit(new))
    }

    pub fn visit(&self, id: String) -> Result<VisitRecord, FieldError> {
        let visit = self.core.visit(&parse::id("id", &id)?)?;
        Ok(visit.into())
    }

    /// Visits of a store, by id.
    pub fn visits_of_store(&self, store_id: String) -> Result<Vec<String>, FieldError> {
        let ids = self
            .core
            .visits_of_store(&parse::id("store_id", &store_id)?)?;
        Ok(ids.iter().map(ToString::to_string).collect())
    }

    pub fn check_out_visit(
        &self,
        id: String,
        check_out: CheckPointRecord,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        let check_out = check_out.check_point("check_out")?;
        self.write(&[&id], |s| s.check_out_visit(&doc, check_out))
    }

    /// Records the shelf display and the inventory count the visit touched.
    pub fn link_visit(
        &self,
        id: String,
        shelf_display_id: Option<String>,
        inventory_count_id: Option<String>,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        let display = shelf_display_id
            .map(|d| parse::id("shelf_display_id", &d))
            .transpose()?;
        let count = inventory_count_id
            .map(|c| parse::id("inventory_count_id", &c))
            .transpose()?;
        self.write(&[&id], |s| {
            s.link_visit(&doc, display.as_ref(), count.as_ref())
        })
    }

    /// Replaces the visit's notes.
    pub fn set_visit_notes(&self, id: String, text: String) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.set_visit_notes(&doc, &text))
    }

    /// Adds to the end of the notes (merges with another device's additions).
    pub fn append_visit_notes(&self, id: String, text: String) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.append_visit_notes(&doc, &text))
    }

    pub fn set_visit_brand_promotion(&self, id: String, text: String) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.set_visit_brand_promotion(&doc, &text))
    }

    /// Adds a photo by content hash (`sha256:` + 64 hex digits).
    pub fn add_visit_photo(
        &self,
        id: String,
        hash: String,
        caption: String,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.add_visit_photo(&doc, &hash, &caption))
    }

    /// A supervisor's comment.
    pub fn comment_on_visit(&self, id: String, text: String) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.comment_on_visit(&doc, &text))
    }

    /// Records one activity of a training day (R8).
    pub fn record_training_activity(
        &self,
        id: String,
        activity: TrainingActivity,
        note: String,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| {
            s.record_training_activity(&doc, activity.into(), &note)
        })
    }
}

impl From<VisitKind> for fc::VisitKind {
    fn from(k: VisitKind) -> Self {
        match k {
            VisitKind::Routine => fc::VisitKind::Routine,
            VisitKind::DemoStreetDailyCheck => fc::VisitKind::DemoStreetDailyCheck,
            VisitKind::MarketWalkthrough => fc::VisitKind::MarketWalkthrough,
            VisitKind::SupervisionSpotCheck => fc::VisitKind::SupervisionSpotCheck,
            VisitKind::TrainingDay => fc::VisitKind::TrainingDay,
            VisitKind::ComplaintOnSite => fc::VisitKind::ComplaintOnSite,
        }
    }
}

impl From<fc::VisitKind> for VisitKind {
    fn from(k: fc::VisitKind) -> Self {
        match k {
            fc::VisitKind::Routine => VisitKind::Routine,
            fc::VisitKind::DemoStreetDailyCheck => VisitKind::DemoStreetDailyCheck,
            fc::VisitKind::MarketWalkthrough => VisitKind::MarketWalkthrough,
            fc::VisitKind::SupervisionSpotCheck => VisitKind::SupervisionSpotCheck,
            fc::VisitKind::TrainingDay => VisitKind::TrainingDay,
            fc::VisitKind::ComplaintOnSite => VisitKind::ComplaintOnSite,
        }
    }
}

impl From<TrainingActivity> for fc::TrainingActivity {
    fn from(a: TrainingActivity) -> Self {
        match a {
            TrainingActivity::BrandDisplay => fc::TrainingActivity::BrandDisplay,
            TrainingActivity::NewBrandPromotion => fc::TrainingActivity::NewBrandPromotion,
            TrainingActivity::InventoryAnalysis => fc::TrainingActivity::InventoryAnalysis,
            TrainingActivity::OrderOptimisation => fc::TrainingActivity::OrderOptimisation,
        }
    }
}

impl From<fc::TrainingActivity> for TrainingActivity {
    fn from(a: fc::TrainingActivity) -> Self {
        match a {
            fc::TrainingActivity::BrandDisplay => TrainingActivity::BrandDisplay,
            fc::TrainingActivity::NewBrandPromotion => TrainingActivity::NewBrandPromotion,
            fc::TrainingActivity::InventoryAnalysis => TrainingActivity::InventoryAnalysis,
            fc::TrainingActivity::OrderOptimisation => TrainingActivity::OrderOptimisation,
        }
    }
}

same_variants!(Datum, fc::Datum, Wgs84, Gcj02);

impl From<GpsFixRecord> for fc::GpsFix {
    fn from(g: GpsFixRecord) -> Self {
        fc::GpsFix {
            lat: g.lat,
            lng: g.lng,
            accuracy_m: g.accuracy_m,
            datum: g.datum.into(),
        }
    }
}

impl From<fc::GpsFix> for GpsFixRecord {
    fn from(g: fc::GpsFix) -> Self {
        GpsFixRecord {
            lat: g.lat,
            lng: g.lng,
            accuracy_m: g.accuracy_m,
            datum: g.datum.into(),
        }
    }
}

impl CheckPointRecord {
    /// The core's check point; an instant out of range is refused as `{field}.at`.
    fn check_point(self, field: &str) -> Result<fc::CheckPoint, FieldError> {
        Ok(fc::CheckPoint {
            at: self.at.timestamp(&format!("{field}.at"))?,
            gps: self.gps.map(Into::into),
        })
    }
}

impl From<fc::RecordedCheckPoint> for RecordedCheckPointRecord {
    fn from(c: fc::RecordedCheckPoint) -> Self {
        RecordedCheckPointRecord {
            at: Instant::from(c.at),
            gps: c.gps.map(Into::into),
            distance_m: c.distance_m,
            in_range: c.in_range,
        }
    }
}

impl From<fc::PhotoRef> for PhotoRecord {
    fn from(p: fc::PhotoRef) -> Self {
        PhotoRecord {
            hash: p.hash,
            caption: p.caption,
            by: p.by,
            at: Instant::from(p.at),
        }
    }
}

impl From<fc::Visit> for VisitRecord {
    fn from(v: fc::Visit) -> Self {
        VisitRecord {
            out_of_range: v.out_of_range(),
            id: v.id.to_string(),
            store_id: v.store_id.to_string(),
            visitor: v.visitor,
            kind: v.kind.into(),
            check_in: v.check_in.into(),
            check_out: v.check_out.map(Into::into),
            complaint_id: v.complaint_id.map(|c| c.to_string()),
            shelf_display_id: v.shelf_display_id.map(|d| d.to_string()),
            inventory_count_id: v.inventory_count_id.map(|c| c.to_string()),
            brand_promotion: v.brand_promotion,
            notes: v.notes,
            photos: v.photos.into_iter().map(Into::into).collect(),
            comments: v
                .comments
                .into_iter()
                .map(|c| VisitCommentRecord {
                    by: c.by,
                    at: Instant::from(c.at),
                    text: c.text,
                })
                .collect(),
            training: v
                .training
                .into_iter()
                .map(|(activity, note)| TrainingRecord {
                    activity: activity.into(),
                    note: note.map(Into::into),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MONDAY_10, ms, new_store, phone};

    #[test]
    fn a_store_picked_on_a_gcj02_map_and_a_wgs84_fix_at_its_door_cross_as_in_range() {
        let am = phone("am-li", MONDAY_10);
        let door = fc::GeoPoint::wgs84(39.90105, 116.42079); // Beijing railway station
        let on_the_map = door.in_datum(fc::Datum::Gcj02);
        let shop = am
            .store
            .create_store(crate::retail_store::NewStoreRecord {
                lat: on_the_map.lat,
                lng: on_the_map.lng,
                datum: Datum::Gcj02,
                ..new_store("330100000051", "am-li")
            })
            .expect("store");
        assert_eq!(
            am.store.store(shop.clone()).expect("store").datum,
            Datum::Gcj02
        );
        let fix = GpsFixRecord {
            lat: door.lat,
            lng: door.lng,
            accuracy_m: 6.0,
            datum: Datum::Wgs84,
        };
        let visit = am
            .store
            .create_visit(NewVisitRecord {
                store_id: shop,
                kind: VisitKind::Routine,
                check_in: CheckPointRecord {
                    at: ms(MONDAY_10),
                    gps: Some(fix),
                },
                complaint_id: None,
            })
            .expect("visit");
        let read = am.store.visit(visit).expect("read back");
        assert_eq!(read.check_in.in_range, Some(true));
        assert_eq!(read.check_in.gps.map(|g| g.datum), Some(Datum::Wgs84));
        assert!(read.check_in.distance_m.is_some_and(|d| d < 1.0));
    }
}
