package org.fieldsync.android

import kotlinx.coroutines.runBlocking
import org.fieldsync.ffi.defaultSyncSettings
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.Instant

/**
 * A phone with a working set fetches documents on demand through the library and a real
 * server: its own come whole, an id that is not its own is listed missing.
 */
class WorkingSetTest {

    @Test
    fun a_phone_with_a_working_set_fetches_a_document_by_id_and_is_told_which_ids_are_not_its_own(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir) {
            addUser("am-li", "account_manager", "Li Wei")
            importStores("330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,0,0,,am-li")
        }.use { server ->
            val phoneA = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
            val phoneB = server.enroll(server.admin().enrollCode("am-li"), "Li's tablet")
            FieldsyncStore.open(phoneDir.resolve("a.db").toString(), phoneA.userId, phoneA.deviceId).use { a ->
                FieldsyncStore.open(phoneDir.resolve("b.db").toString(), phoneB.userId, phoneB.deviceId).use { b ->
                    FieldsyncSync(a, server.url, phoneA.token).use { syncA ->
                        val settings = defaultSyncSettings(server.url, phoneB.token).copy(workingWeeks = 5u)
                        FieldsyncSync(b, settings).use { syncB ->
                            syncA.syncNow()
                            val store = a.stores().single()
                            val visit = a.createVisit(routineVisit(store.id))
                            syncA.syncNow()

                            val unknown = "01a20b3f-ee45-72dd-98de-d03f0aca810b"
                            val fetched = syncB.fetchDocuments(listOf(visit, unknown))
                            assertEquals(1uL, fetched.merged)
                            assertEquals(0uL, fetched.keptAsFetched, "a recent visit is in the working set")
                            assertEquals(listOf(unknown), fetched.missing)
                            assertEquals(visit, b.visit(visit).id)

                            val history = syncB.fetchStoreHistory(store.id, before = Instant.now().plusSeconds(3600))
                            assertEquals(1uL, history.merged)
                            assertNull(history.next)
                        }
                    }
                }
            }
        }
    }
}
