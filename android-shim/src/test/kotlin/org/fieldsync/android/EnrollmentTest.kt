package org.fieldsync.android

import kotlinx.coroutines.runBlocking
import org.fieldsync.ffi.CheckPointRecord
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.NewVisitRecord
import org.fieldsync.ffi.VisitKind
import org.fieldsync.ffi.defaultSyncSettings
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.Instant

/** Enrollment through the library, the identity the store keeps, and a token never shown. */
class EnrollmentTest {

    @Test
    fun a_device_enrolled_through_the_library_syncs_and_its_store_refuses_another_user(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking<Unit> {
        TestServer.start(serverDir) {
            addUser("am-li", "account_manager", "Li Wei")
            importStores("330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,0,0,,am-li")
        }.use { server ->
            val code = server.admin().enrollCode("am-li")
            val enrollment = FieldsyncEnrollment.enroll(server.url, code, "Li's phone")
            assertEquals("am-li", enrollment.userId)
            assertEquals("account_manager", enrollment.role)
            val secret = enrollment.token.value
            assertFalse(enrollment.toString().contains(secret), enrollment.toString())
            assertFalse(defaultSyncSettings(server.url, secret).toString().contains(secret))

            val path = phoneDir.resolve("phone.db").toString()
            FieldsyncStore.openEnrolled(path, enrollment).use { store ->
                FieldsyncSync(store, server.url, enrollment).use { it.syncNow() }
                assertEquals(listOf("330100000001"), store.stores().map { it.licence })
                // The store knows its user's role: another role's kind of visit is refused
                // here, not by the server at the next sync.
                val storeId = store.stores().single().id
                val spotCheck = NewVisitRecord(storeId, VisitKind.SUPERVISION_SPOT_CHECK, CheckPointRecord(Instant.now(), null), null)
                val wrongKind = assertThrows<FieldException.InvalidInput> { runBlocking { store.createVisit(spotCheck) } }
                assertEquals("kind", wrongKind.field)
                store.createVisit(spotCheck.copy(kind = VisitKind.ROUTINE))
            }
            val refused = assertThrows<FieldException.InvalidInput> {
                runBlocking { FieldsyncStore.open(path, "am-zhao", enrollment.deviceId).close() }
            }
            assertEquals("identity.user_id", refused.field)
            FieldsyncStore.open(path, enrollment.userId, enrollment.deviceId).close()

            // The code is used up: enrolling with it again is refused.
            assertThrows<FieldException.Unauthorized> {
                runBlocking { FieldsyncEnrollment.enroll(server.url, code, "Li's second phone") }
            }
        }
    }
}
