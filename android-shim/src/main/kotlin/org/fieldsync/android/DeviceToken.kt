package org.fieldsync.android

/**
 * A device's bearer token from enrollment: a secret. [toString] never shows it, so a
 * `SyncSettings` or an `EnrollmentRecord` in a log line or a crash report does not leak
 * it. Keep [value] encrypted at rest with a key in the Android Keystore (`docs/android.md`).
 */
class DeviceToken(val value: String) {
    override fun toString(): String = "DeviceToken(hidden)"
    override fun equals(other: Any?): Boolean = other is DeviceToken && other.value == value
    override fun hashCode(): Int = value.hashCode()
}
