package org.fieldsync.android

import org.fieldsync.ffi.EnrollmentRecord

/**
 * Enrollment through the library, over the same TLS as every sync (the bundled Mozilla
 * roots plus a district's private CA): no HTTP stack of the app's own, which would trust
 * different roots.
 */
object FieldsyncEnrollment {
    /**
     * Trades the one-time [code] (from `fieldsync-server admin enroll-code USER`) for this
     * device's identity and token. A used, expired or unknown code throws
     * `FieldException.Unauthorized`; no network, `FieldException.Offline`. Store the token
     * encrypted with a key in the Android Keystore (`docs/android.md`); its `toString()`
     * never shows it.
     */
    suspend fun enroll(serverUrl: String, code: String, deviceName: String, extraRootPem: String? = null): EnrollmentRecord =
        org.fieldsync.ffi.enroll(serverUrl, code, deviceName, extraRootPem)
}
