//! GPS fixes, store locations and the store geofence, each with its datum.
//!
//! A GPS chip reports WGS-84; Chinese map and location SDKs (Amap, Tencent) report GCJ-02,
//! hundreds of metres away inside China. Every fix and location carries its [`Datum`], and
//! distances are measured between WGS-84 positions: a GCJ-02 one is converted first
//! ([`crate::geo::gcj02`]), so like is compared with like. Documents written before the datum
//! was recorded read as WGS-84.

mod gcj02;

use crate::error::{Error, Result};

/// The default geofence radius around a store, in metres.
pub const DEFAULT_GEOFENCE_M: f64 = 200.0;

/// The datum of a position: how its degrees are to be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Datum {
    /// WGS-84, what a GPS chip and Android's `LocationManager` report. What a document
    /// without a datum holds.
    #[default]
    Wgs84,
    /// GCJ-02 (国测局坐标, "Mars coordinates"), what Amap/Gaode and Tencent maps and location
    /// SDKs give inside China.
    Gcj02,
}

/// The datum codes documents hold, for the schema (`core/src/kinds`).
pub(crate) const DATUM_CODES: &[&str] = &["wgs84", "gcj02"];

impl Datum {
    pub const ALL: [Datum; 2] = [Datum::Wgs84, Datum::Gcj02];

    /// The code documents store: `wgs84` or `gcj02`.
    pub fn code(self) -> &'static str {
        match self {
            Datum::Wgs84 => "wgs84",
            Datum::Gcj02 => "gcj02",
        }
    }

    /// Reads a code; `field` names the input in the error.
    pub fn parse(field: &str, text: &str) -> Result<Datum> {
        Self::ALL
            .into_iter()
            .find(|d| d.code() == text)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("unknown datum `{text}` (expected `wgs84` or `gcj02`)"),
                )
            })
    }
}

/// A position on earth in degrees, in its datum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoPoint {
    pub lat: f64,
    pub lng: f64,
    pub datum: Datum,
}

/// A GPS fix: where, in which datum, how accurate (metres, 68% radius as Android reports it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpsFix {
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: f64,
    pub datum: Datum,
}

impl GeoPoint {
    /// A WGS-84 position (a GPS chip's).
    pub fn wgs84(lat: f64, lng: f64) -> GeoPoint {
        GeoPoint {
            lat,
            lng,
            datum: Datum::Wgs84,
        }
    }

    pub fn validate(&self, field: &str) -> Result<()> {
        check_lat_lng(field, self.lat, self.lng)
    }

    /// The same place in WGS-84.
    pub fn to_wgs84(&self) -> GeoPoint {
        match self.datum {
            Datum::Wgs84 => *self,
            Datum::Gcj02 => {
                let (lat, lng) = gcj02::to_wgs84(self.lat, self.lng);
                GeoPoint::wgs84(lat, lng)
            }
        }
    }

    /// The same place in `datum`.
    pub fn in_datum(&self, datum: Datum) -> GeoPoint {
        let wgs = self.to_wgs84();
        match datum {
            Datum::Wgs84 => wgs,
            Datum::Gcj02 => {
                let (lat, lng) = gcj02::from_wgs84(wgs.lat, wgs.lng);
                GeoPoint { lat, lng, datum }
            }
        }
    }

    /// Great-circle distance in metres between the two places, both taken to WGS-84 first
    /// (haversine; plenty for a 200 m fence).
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        const EARTH_RADIUS_M: f64 = 6_371_008.8;
        let (a, b) = (self.to_wgs84(), other.to_wgs84());
        let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
        let dp = p2 - p1;
        let dl = (b.lng - a.lng).to_radians();
        let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.sqrt().asin()
    }
}

impl GpsFix {
    /// A WGS-84 fix (a GPS chip's).
    pub fn wgs84(lat: f64, lng: f64, accuracy_m: f64) -> GpsFix {
        GpsFix {
            lat,
            lng,
            accuracy_m,
            datum: Datum::Wgs84,
        }
    }

    pub fn point(&self) -> GeoPoint {
        GeoPoint {
            lat: self.lat,
            lng: self.lng,
            datum: self.datum,
        }
    }

    pub fn validate(&self, field: &str) -> Result<()> {
        check_lat_lng(field, self.lat, self.lng)?;
        if !self.accuracy_m.is_finite() || self.accuracy_m < 0.0 {
            return Err(Error::invalid(
                format!("{field}.accuracy_m"),
                format!(
                    "accuracy `{}` must be a non-negative number of metres",
                    self.accuracy_m
                ),
            ));
        }
        Ok(())
    }

    /// Whether the fix is within `radius_m` of `centre`, both in WGS-84. The fix's own
    /// accuracy is not added: a fix is judged where it says it is, and the accuracy is kept
    /// beside it so a reviewer can see how much to trust the verdict.
    pub fn in_range(&self, centre: &GeoPoint, radius_m: f64) -> bool {
        self.point().distance_m(centre) <= radius_m
    }
}

fn check_lat_lng(field: &str, lat: f64, lng: f64) -> Result<()> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(Error::invalid(
            format!("{field}.lat"),
            format!("latitude `{lat}` is outside -90..90"),
        ));
    }
    if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
        return Err(Error::invalid(
            format!("{field}.lng"),
            format!("longitude `{lng}` is outside -180..180"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fix_150_m_away_is_in_range_and_one_250_m_away_is_not() {
        let store = GeoPoint::wgs84(30.0, 120.0);
        // One degree of latitude is ~111.2 km.
        let near = GpsFix::wgs84(30.0 + 150.0 / 111_195.0, 120.0, 10.0);
        let far = GpsFix::wgs84(30.0 + 250.0 / 111_195.0, 120.0, 10.0);
        assert!(near.in_range(&store, DEFAULT_GEOFENCE_M));
        assert!(!far.in_range(&store, DEFAULT_GEOFENCE_M));
    }

    #[test]
    fn impossible_coordinates_are_refused_naming_the_field() {
        let bad = GpsFix::wgs84(91.0, 0.0, 5.0);
        let err = bad.validate("check_in.gps").expect_err("must refuse");
        assert!(err.to_string().contains("`check_in.gps.lat`"), "{err}");
        let nan = GpsFix::wgs84(0.0, f64::NAN, 5.0);
        assert!(nan.validate("gps").is_err());
    }

    #[test]
    fn a_kunming_shop_entered_on_a_gcj02_map_is_hundreds_of_metres_from_its_wgs84_door() {
        // The door of a shop in Kunming as a GPS chip gives it, and the same door picked on
        // an Amap map.
        let door = GeoPoint::wgs84(25.0389, 102.7183);
        let on_the_map = door.in_datum(Datum::Gcj02);
        let raw = GeoPoint::wgs84(on_the_map.lat, on_the_map.lng); // the datum forgotten
        let offset = door.distance_m(&raw);
        assert!(offset > DEFAULT_GEOFENCE_M, "the offset is {offset:.0} m");
        assert!(door.distance_m(&on_the_map) < 0.01, "like with like");
    }

    #[test]
    fn datum_codes_read_back_and_an_unknown_one_is_refused_naming_the_field() {
        for datum in Datum::ALL {
            assert_eq!(Datum::parse("datum", datum.code()).ok(), Some(datum));
        }
        let err = Datum::parse("check_in.gps.datum", "bd09").expect_err("not supported");
        assert!(err.to_string().contains("`check_in.gps.datum`"), "{err}");
    }
}
