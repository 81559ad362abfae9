package org.fieldsync.android

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/**
 * A new phone's first sync stores visits and counts from the server's rows; the idle-time
 * check builds them, finds the rows right, and leaves them readable and compacted.
 */
class MaintenanceTest {

    @Test
    fun the_idle_check_builds_every_document_a_first_sync_stored_from_the_servers_rows_and_finds_them_right(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking<Unit> {
        TestServer.start(serverDir) {
            addUser("am-li", "account_manager", "Li Wei")
            importStores("330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,0,0,,am-li")
        }.use { server ->
            val old = server.enroll(server.admin().enrollCode("am-li"), "Li's old phone")
            val new = server.enroll(server.admin().enrollCode("am-li"), "Li's new phone")
            FieldsyncStore.open(phoneDir.resolve("old.db").toString(), old.userId, old.deviceId).use { a ->
                FieldsyncStore.open(phoneDir.resolve("new.db").toString(), new.userId, new.deviceId).use { b ->
                    FieldsyncSync(a, server.url, old.token).use { it.syncNow() }
                    val store = a.stores().single()
                    val visits = (1..3).map { a.createVisit(routineVisit(store.id)) }
                    val count = a.createInventoryCount(store.id, countLines)
                    FieldsyncSync(a, server.url, old.token).use { it.syncNow() }

                    FieldsyncSync(b, server.url, new.token).use { it.syncNow() }
                    val first = b.checkReceived(batch = 2, maxBatches = 1)
                    assertEquals(2, first.checked)
                    assertTrue(first.remaining >= 2, "one batch of two leaves the rest: $first")
                    val rest = b.checkReceived(batch = 2)
                    assertEquals(0, rest.remaining)
                    assertTrue(first.checked + rest.checked >= 4, "three visits and a count: $first, $rest")
                    assertEquals(emptyList<String>(), first.corrected + rest.corrected)
                    assertEquals(emptyList<String>(), first.damaged + rest.damaged)
                    assertEquals(ReceivedCheckSummary(0, emptyList(), emptyList(), 0), b.checkReceived())

                    // Compacting what the first sync built (stores, displays) changes no read either.
                    b.compact(minChunks = 1)
                    assertEquals(visits.sorted(), visits.map { b.visit(it).id }.sorted())
                    assertEquals(a.inventoryCount(count).lines, b.inventoryCount(count).lines)
                    assertThrows<IllegalArgumentException> { runBlocking { b.checkReceived(batch = 0) } }
                }
            }
        }
    }
}
