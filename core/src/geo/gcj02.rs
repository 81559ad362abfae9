//! GCJ-02, the datum of Chinese map and location SDKs (Amap/Gaode, Tencent; the
//! "Mars coordinates"), and its conversion to and from WGS-84, the datum of a GPS chip.
//!
//! Inside China, GCJ-02 adds to a WGS-84 position an offset of a few hundred metres that
//! varies smoothly from place to place; outside it the two are the same. The offset is the
//! widely published transformation: two trigonometric series in the position's distance
//! from (105° E, 35° N), scaled to degrees on the Krasovsky 1940 ellipsoid. Going back has
//! no closed form, so [`to_wgs84`] inverts it by fixed-point iteration, bounded, to well
//! under a millimetre.

use std::f64::consts::PI;

/// Semi-major axis of the Krasovsky 1940 ellipsoid the offset is scaled on, in metres.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// Its first eccentricity squared.
const KRASOVSKY_E2: f64 = 0.006_693_421_622_965_943;

/// Most steps of the inverse: each one divides the error by about a hundred, so a handful
/// is plenty; the bound only guards against a non-finite input.
const MAX_INVERSE_STEPS: usize = 30;
/// The inverse stops when its forward image is this close to the target, in degrees (about
/// 0.1 mm).
const INVERSE_TOLERANCE_DEG: f64 = 1e-9;

/// Whether the offset applies: the rough box around China that the published
/// transformation uses (outside it, GCJ-02 equals WGS-84).
pub(crate) fn in_china(lat: f64, lng: f64) -> bool {
    (72.004..=137.8347).contains(&lng) && (0.8293..=55.8271).contains(&lat)
}

/// The GCJ-02 position of a WGS-84 one, `(lat, lng)` in degrees.
pub(crate) fn from_wgs84(lat: f64, lng: f64) -> (f64, f64) {
    if !in_china(lat, lng) {
        return (lat, lng);
    }
    let (d_lat, d_lng) = offset(lat, lng);
    (lat + d_lat, lng + d_lng)
}

/// The WGS-84 position of a GCJ-02 one, `(lat, lng)` in degrees: the point whose GCJ-02
/// image is the given one, found by iteration.
pub(crate) fn to_wgs84(lat: f64, lng: f64) -> (f64, f64) {
    if !in_china(lat, lng) {
        return (lat, lng);
    }
    let (mut w_lat, mut w_lng) = (lat, lng);
    for _ in 0..MAX_INVERSE_STEPS {
        let (g_lat, g_lng) = from_wgs84(w_lat, w_lng);
        let (e_lat, e_lng) = (lat - g_lat, lng - g_lng);
        if e_lat.abs() < INVERSE_TOLERANCE_DEG && e_lng.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
        w_lat += e_lat;
        w_lng += e_lng;
    }
    (w_lat, w_lng)
}

/// The offset GCJ-02 adds at a WGS-84 position, in degrees of latitude and longitude.
fn offset(lat: f64, lng: f64) -> (f64, f64) {
    let (x, y) = (lng - 105.0, lat - 35.0);
    let north_m = series_north(x, y);
    let east_m = series_east(x, y);
    let phi = lat.to_radians();
    let w = 1.0 - KRASOVSKY_E2 * phi.sin().powi(2);
    // Metres per degree along the meridian and along the parallel of this latitude.
    let meridian = KRASOVSKY_A * (1.0 - KRASOVSKY_E2) / (w * w.sqrt()) * PI / 180.0;
    let parallel = KRASOVSKY_A / w.sqrt() * phi.cos() * PI / 180.0;
    (north_m / meridian, east_m / parallel)
}

/// The shared wave term of both series.
fn waves(x: f64) -> f64 {
    (20.0 * (6.0 * PI * x).sin() + 20.0 * (2.0 * PI * x).sin()) * 2.0 / 3.0
}

/// The northward series, in metres.
fn series_north(x: f64, y: f64) -> f64 {
    let base = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    base + waves(x)
        + (20.0 * (PI * y).sin() + 40.0 * (PI * y / 3.0).sin()) * 2.0 / 3.0
        + (160.0 * (PI * y / 12.0).sin() + 320.0 * (PI * y / 30.0).sin()) * 2.0 / 3.0
}

/// The eastward series, in metres.
fn series_east(x: f64, y: f64) -> f64 {
    let base = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    base + waves(x)
        + (20.0 * (PI * x).sin() + 40.0 * (PI * x / 3.0).sin()) * 2.0 / 3.0
        + (150.0 * (PI * x / 12.0).sin() + 300.0 * (PI * x / 30.0).sin()) * 2.0 / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_railway_station_moves_to_its_published_gcj02_position() {
        // A test vector published with the transformation: WGS-84 (39.90105, 116.42079)
        // is GCJ-02 (39.90245, 116.42703), to the five decimals given.
        let (lat, lng) = from_wgs84(39.90105, 116.42079);
        assert!((lat - 39.90245).abs() < 1e-5, "{lat}");
        assert!((lng - 116.42703).abs() < 1e-5, "{lng}");
    }

    #[test]
    fn the_inverse_returns_to_the_wgs84_point_within_a_millimetre() {
        for (lat, lng) in [
            (39.90105, 116.42079),
            (25.0389, 102.7183),
            (30.2741, 120.1551),
        ] {
            let (g_lat, g_lng) = from_wgs84(lat, lng);
            let (w_lat, w_lng) = to_wgs84(g_lat, g_lng);
            // 1e-8 degrees is about a millimetre.
            assert!((w_lat - lat).abs() < 1e-8 && (w_lng - lng).abs() < 1e-8);
        }
    }

    #[test]
    fn outside_china_gcj02_is_wgs84() {
        assert_eq!(from_wgs84(48.8566, 2.3522), (48.8566, 2.3522));
        assert_eq!(to_wgs84(-33.8688, 151.2093), (-33.8688, 151.2093));
        assert_eq!(to_wgs84(f64::NAN, 120.0).1, 120.0);
    }
}
