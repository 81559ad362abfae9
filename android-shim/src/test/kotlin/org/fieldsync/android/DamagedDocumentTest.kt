package org.fieldsync.android

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.fieldsync.ffi.DocumentKind
import org.fieldsync.ffi.FieldException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/**
 * A record an older server stored unreadable (planted in the real server's database by
 * `fieldsync-plant`, see `tests/src/old_server.rs`) reaches the phone: the sync succeeds and
 * names it, the list and its Flow show it, and reading it is a typed exception.
 */
class DamagedDocumentTest {

    private val plantBinary: String = System.getProperty("fieldsync.plant")
        ?: error("system property fieldsync.plant is not set (run through Maven: scripts/test)")

    /** Plants [bad] about [storeId] in the server's database; returns the document's id. */
    private fun plant(serverDir: Path, storeId: String, bad: String): String {
        val process = ProcessBuilder(plantBinary, serverDir.toString(), storeId, bad)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val out = process.inputStream.bufferedReader().readText().trim()
        check(process.waitFor(60, TimeUnit.SECONDS) && process.exitValue() == 0) { "fieldsync-plant failed: $out" }
        return out
    }

    @Test
    fun a_visit_stored_without_check_in_is_reported_by_the_sync_listed_and_read_as_a_damaged_exception(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir) {
            addUser("am-li", "account_manager", "Li Wei")
            importStores("330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,1,0,,am-li")
        }.use { server ->
            val device = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
            FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), device.userId, device.deviceId).use { store ->
                FieldsyncSync(store, server.url, device.token).use { sync ->
                    sync.syncNow()
                    val storeId = store.stores().single().id
                    assertTrue(store.damagedDocuments().isEmpty())

                    val watching = CompletableDeferred<Unit>()
                    val seen = async {
                        store.damaged.onEach { watching.complete(Unit) }.first { it.isNotEmpty() }
                    }
                    withTimeout(10_000) { watching.await() }
                    val visitId = plant(serverDir, storeId, "no-check-in")
                    val mine = store.createVisit(routineVisit(storeId))

                    val report = sync.syncNow()
                    assertEquals(listOf(visitId), report.damaged)
                    assertEquals(org.fieldsync.ffi.ReceiptState.OnServer, store.receipt(mine))
                    val listed = withTimeout(10_000) { seen.await() }
                    assertEquals(visitId, listed.single().id)
                    assertEquals(DocumentKind.VISIT, listed.single().kind)
                    assertEquals(storeId, listed.single().storeId)
                    assertTrue(listed.single().reason.contains("check_in"), listed.single().reason)
                    assertFalse(listed.single().earlierVersionKept)
                    assertEquals(listed, store.rulesCannotJudge())

                    val error = assertThrows<FieldException.Damaged> { runBlocking { store.visit(visitId) } }
                    assertEquals(visitId, error.id)
                    assertTrue(error.readable.startsWith("The record `"), error.readable)

                    // The next sync is an ordinary one.
                    assertTrue(sync.syncNow().damaged.isEmpty())
                    assertEquals(listed, store.damagedDocuments())
                }
            }
        }
    }
}
