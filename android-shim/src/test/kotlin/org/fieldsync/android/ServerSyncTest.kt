package org.fieldsync.android

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.takeWhile
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.ReceiptState
import org.fieldsync.ffi.SyncPhase
import org.fieldsync.ffi.SyncProgressRecord
import org.fieldsync.ffi.defaultSyncSettings
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.util.Collections

/**
 * The whole path: Kotlin → bindings → core → HTTP → a real fieldsync-server on loopback,
 * seeded with its admin CLI, and back.
 */
class ServerSyncTest {

    private fun seeded(dir: Path) = TestServer.start(dir) {
        addUser("am-li", "account_manager", "Li Wei")
        importStores(
            "330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,1,1,good,am-li",
            "330100000002,Corner Shop,Zhao,,2 Wulin Road,30.2750,120.1560,Z,C,3,C,20,0,0,,am-li",
        )
    }

    @Test
    fun a_visit_recorded_offline_reaches_the_server_and_its_receipt_turns_to_on_the_server(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        seeded(serverDir).use { server ->
            val device = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
            assertEquals("am-li", device.userId)
            FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), device.userId, device.deviceId).use { store ->
                FieldsyncSync(store, server.url, device.token).use { sync ->
                    // First sync: the territory's stores and their shelf displays arrive.
                    val first = sync.syncNow()
                    assertTrue(first.docsPulled >= 4uL, "pulled ${first.docsPulled}")
                    val stores = store.stores().associateBy { it.licence }
                    assertEquals(setOf("330100000001", "330100000002"), stores.keys)
                    val greenLeaf = stores.getValue("330100000001")
                    assertEquals(listOf("330100000001"), store.storesDueVisit().map { it.licence }, "Z3 is exempt")

                    // Offline work: a visit with a display check and a count.
                    val visitId = store.createVisit(routineVisit(greenLeaf.id))
                    val displayId = store.shelfDisplayOf(greenLeaf.id).id
                    store.recordDisplayCheck(displayId, displayCheck())
                    val countId = store.createInventoryCount(greenLeaf.id, countLines)
                    store.setCounted(countId, "sku-101", 39)
                    store.setCounted(countId, "sku-102", 60)
                    store.linkVisit(visitId, displayId, countId)
                    store.checkOutVisit(visitId, checkPoint())
                    assertEquals(ReceiptState.SavedOnPhone, store.receipt(visitId))

                    // Watch the receipt and the progress while the second sync runs.
                    val watching = CompletableDeferred<Unit>()
                    val receipts = async {
                        store.receipts(visitId)
                            .onEach { watching.complete(Unit) }
                            .takeWhile { it != ReceiptState.OnServer }
                            .toList()
                    }
                    val progress = Collections.synchronizedList(mutableListOf<SyncProgressRecord>())
                    withTimeout(10_000) { watching.await() }
                    val report = sync.syncNow { progress.add(it) }
                    assertEquals(3uL, report.docsPushed)
                    assertTrue(report.rejected.isEmpty(), "${report.rejected}")

                    val states = withTimeout(10_000) { receipts.await() }
                    assertEquals(ReceiptState.SavedOnPhone, states.first())
                    // "Uploading" is shown while the push is in flight, if a read falls inside it.
                    assertTrue(states.drop(1).all { it == ReceiptState.Uploading }, "$states")
                    for (id in listOf(visitId, displayId, countId)) {
                        assertEquals(ReceiptState.OnServer, store.receipt(id))
                    }
                    assertTrue(store.local { pendingDocuments() }.isEmpty())
                    assertTrue(progress.any { it.phase == SyncPhase.PUSHING && it.docsToPush == 3uL }, "$progress")
                    assertEquals(SyncPhase.DONE, progress.last().phase)
                    assertEquals(3uL, progress.last().docsPushed)
                    assertTrue(sync.status.value is SyncStatus.Succeeded)
                }
            }
        }
    }

    @Test
    fun a_server_that_is_gone_is_an_offline_exception_and_the_record_stays_on_the_phone(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        val server = seeded(serverDir)
        val device = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
        FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), device.userId, device.deviceId).use { store ->
            val settings = defaultSyncSettings(server.url, device.token)
                .copy(maxAttempts = 2u, initialBackoffMs = 10uL, maxBackoffMs = 20uL)
            FieldsyncSync(store, settings).use { sync ->
                sync.syncNow()
                val storeId = store.stores().first { it.licence == "330100000001" }.id
                val visitId = store.createVisit(routineVisit(storeId))
                server.close()

                val error = assertThrows<FieldException.Offline> { runBlocking { sync.syncNow() } }
                assertTrue(error.isTransient)
                assertTrue(error.readable.startsWith("The server cannot be reached"), error.readable)
                assertEquals(ReceiptState.SavedOnPhone, store.receipt(visitId))
                assertTrue(sync.status.value is SyncStatus.Failed)
            }
        }
    }
}
