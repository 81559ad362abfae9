//! The thumbnail a phone makes of each photo: at most [`EDGE`] pixels a side, JPEG, a few
//! tens of KB, so that a supervisor's list shows the evidence before the full photo is
//! uploaded or fetched. JPEG and PNG photos are read; anything else is refused, which also
//! keeps bytes that are not an image out of the documents.

use std::io::{BufReader, Cursor};
use std::path::Path;

use image::ImageReader;
use image::codecs::jpeg::JpegEncoder;

use crate::error::{Error, Result};

/// The longest side of a thumbnail, in pixels.
pub const EDGE: u32 = 320;

/// JPEG quality of a thumbnail: small files, still readable shelves and price tags.
const QUALITY: u8 = 70;

/// The thumbnail of the image in `bytes`.
pub fn of_bytes(bytes: &[u8]) -> Result<Vec<u8>> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(not_an_image)?;
    encode(reader.decode().map_err(not_an_image)?)
}

/// The thumbnail of the image file at `path`.
pub fn of_file(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::invalid("photo", format!("cannot read `{}`: {e}", path.display())))?;
    let reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(not_an_image)?;
    encode(reader.decode().map_err(not_an_image)?)
}

fn encode(image: image::DynamicImage) -> Result<Vec<u8>> {
    // JPEG has no alpha channel: flattened to RGB.
    let small = image.thumbnail(EDGE, EDGE).to_rgb8();
    let mut out = Vec::with_capacity(32 * 1024);
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&small)
        .map_err(|e| Error::invalid("photo", format!("the thumbnail could not be encoded: {e}")))?;
    Ok(out)
}

fn not_an_image(e: impl std::fmt::Display) -> Error {
    Error::invalid("photo", format!("is not a JPEG or PNG image: {e}"))
}

/// A test photo: a `width` x `height` JPEG of a noisy gradient (a camera's photo does not
/// compress to nothing either), deterministic from `seed`.
pub fn sample_jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state & 0x3f) as u8;
        image::Rgb([
            ((x * 255 / width.max(1)) as u8).wrapping_add(noise),
            ((y * 255 / height.max(1)) as u8).wrapping_add(noise / 2),
            (seed as u8).wrapping_add(noise),
        ])
    });
    let mut out = Vec::new();
    // Quality high enough that a 1600x1200 sample is a few hundred KB, as a phone's is.
    let _ = JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_photo_becomes_a_jpeg_of_at_most_320_pixels_and_tens_of_kb() {
        let photo = sample_jpeg(1600, 1200, 7);
        let thumb = of_bytes(&photo).expect("test step");
        let decoded = image::load_from_memory(&thumb).expect("test step");
        assert_eq!((decoded.width(), decoded.height()), (320, 240));
        assert!(thumb.len() < 60 * 1024, "{} bytes", thumb.len());
        assert!(photo.len() > 5 * thumb.len());
    }

    #[test]
    fn bytes_that_are_not_an_image_are_refused_naming_the_photo() {
        let err = of_bytes(b"not a picture").expect_err("refused");
        assert!(err.to_string().contains("JPEG or PNG"), "{err}");
    }

    #[test]
    fn a_png_photo_is_read_too() {
        let img = image::RgbaImage::from_pixel(640, 100, image::Rgba([10, 20, 30, 128]));
        let mut png = Vec::new();
        img.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("test step");
        let thumb = of_bytes(&png).expect("test step");
        let decoded = image::load_from_memory(&thumb).expect("test step");
        assert_eq!((decoded.width(), decoded.height()), (320, 50));
    }
}
