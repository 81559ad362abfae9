//! GPS fixes and the store geofence.

use crate::error::{Error, Result};

/// The default geofence radius around a store, in metres.
pub const DEFAULT_GEOFENCE_M: f64 = 200.0;

/// A position on earth in degrees (WGS-84), as a phone reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoPoint {
    pub lat: f64,
    pub lng: f64,
}

/// A GPS fix: where, how accurate (metres, 68% radius as Android reports it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpsFix {
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: f64,
}

impl GeoPoint {
    pub fn validate(&self, field: &str) -> Result<()> {
        check_lat_lng(field, self.lat, self.lng)
    }

    /// Great-circle distance in metres (haversine; plenty for a 200 m fence).
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        const EARTH_RADIUS_M: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lng - self.lng).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().asin()
    }
}

impl GpsFix {
    pub fn point(&self) -> GeoPoint {
        GeoPoint {
            lat: self.lat,
            lng: self.lng,
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

    /// Whether the fix is within `radius_m` of `centre`. The fix's own accuracy is not
    /// added: a fix is judged where it says it is, and the accuracy is kept beside it so a
    /// reviewer can see how much to trust the verdict.
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
        let store = GeoPoint {
            lat: 30.0,
            lng: 120.0,
        };
        // One degree of latitude is ~111.2 km.
        let near = GpsFix {
            lat: 30.0 + 150.0 / 111_195.0,
            lng: 120.0,
            accuracy_m: 10.0,
        };
        let far = GpsFix {
            lat: 30.0 + 250.0 / 111_195.0,
            lng: 120.0,
            accuracy_m: 10.0,
        };
        assert!(near.in_range(&store, DEFAULT_GEOFENCE_M));
        assert!(!far.in_range(&store, DEFAULT_GEOFENCE_M));
    }

    #[test]
    fn impossible_coordinates_are_refused_naming_the_field() {
        let bad = GpsFix {
            lat: 91.0,
            lng: 0.0,
            accuracy_m: 5.0,
        };
        let err = bad.validate("check_in.gps").expect_err("must refuse");
        assert!(err.to_string().contains("`check_in.gps.lat`"), "{err}");
        let nan = GpsFix {
            lat: 0.0,
            lng: f64::NAN,
            accuracy_m: 5.0,
        };
        assert!(nan.validate("gps").is_err());
    }
}
