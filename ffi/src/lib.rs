//! fieldsync-ffi: the uniffi face of `fieldsync-core` for Android (and later iOS) apps.
//!
//! Empty on purpose until the app-facing API issue: it will hold only FFI records, the
//! small `FieldError` enum and conversions, with no logic of its own. Nothing here is
//! exported yet, so nothing can be mistaken for a working binding.
