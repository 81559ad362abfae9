//! uniffi's bindings generator, built from this workspace so its version always matches the
//! `uniffi` the library was compiled with. Run it in library mode on the *unstripped*
//! library: `scripts/bindings` does.

fn main() {
    uniffi::uniffi_bindgen_main()
}
