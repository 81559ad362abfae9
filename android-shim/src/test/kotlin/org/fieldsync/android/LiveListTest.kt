package org.fieldsync.android

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import org.fieldsync.ffi.DisplayStandard
import org.fieldsync.ffi.StoreListQuery
import org.fieldsync.ffi.StorePage
import org.fieldsync.ffi.StoreSort
import org.fieldsync.ffi.UploadState
import org.fieldsync.ffi.Verdict
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/** The home screen's live lists, read from the index, re-emitted when what they show changes. */
class LiveListTest {

    private fun phone(dir: Path, user: String = "am-li", device: String = "phone-7") =
        runBlocking { FieldsyncStore.open(dir.resolve("$device.db").toString(), user, device) }

    @Test
    fun the_live_store_list_re_emits_after_an_edit_and_not_after_an_edit_it_does_not_show(
        @TempDir dir: Path,
    ) = runBlocking {
        phone(dir).use { store ->
            val ids = (1..3).map { store.local { createStore(newStore("33010000030$it")) } }
            val pages = Channel<StorePage>(Channel.UNLIMITED)
            val collecting = launch { store.storeList().collect { pages.send(it) } }
            val first = withTimeout(10_000) { pages.receive() }
            assertEquals(3, first.total)
            assertTrue(first.rows.all { it.visitDue && it.lastVisit == null })

            val visitId = store.createVisit(routineVisit(ids[1]))
            val second = withTimeout(10_000) { pages.receive() }
            val visited = second.rows.single { it.id == ids[1] }
            assertEquals(false, visited.visitDue)
            assertNotNull(visited.lastVisit)
            assertEquals(UploadState.SAVED_ON_PHONE, visited.upload)

            // Notes are not on the list: it reads again, finds the same, and stays quiet.
            store.appendVisitNotes(visitId, "owner asked for Yuxi")
            assertNull(withTimeoutOrNull(500) { pages.receive() }, "nothing it shows changed")
            collecting.cancel()
        }
    }

    @Test
    fun a_store_list_pages_filters_and_sorts_from_the_index(@TempDir dir: Path) = runBlocking {
        phone(dir).use { store ->
            val plain = { licence: String -> newStore(licence).copy(demoStreet = false, functionalTerminal = false, rating = null) }
            val ids = (1..7).map { store.local { createStore(plain("33010000040$it")) } }
            store.createVisit(routineVisit(ids[3]))
            val source = StorePageSource(store, StoreListQuery(sort = StoreSort.DUE_FIRST))
            val seen = mutableListOf<String>()
            var offset = 0
            repeat(5) {
                val page = source.load(offset, 3)
                assertEquals(7, page.total)
                seen += page.rows.map { it.id }
                offset += page.rows.size
            }
            assertEquals(ids.toSet(), seen.toSet())
            assertEquals(7, seen.size)
            assertEquals(ids[3], seen.last(), "the visited store is due last")
            val due = store.storeList(StoreListQuery(onlyDue = true)).first()
            assertEquals(6, due.total)
            val found = store.storeList(StoreListQuery(search = "330100000405")).first()
            assertEquals(listOf(ids[4]), found.rows.map { it.id })
        }
    }

    @Test
    fun a_pager_is_told_to_reload_after_a_change_to_the_list(@TempDir dir: Path) = runBlocking {
        phone(dir).use { store ->
            val storeId = store.local { createStore(newStore("330100000501")) }
            val source = StorePageSource(store, StoreListQuery())
            val reloads = Channel<Long>(Channel.UNLIMITED)
            val watching = launch { source.invalidations.collect { reloads.send(it) } }
            delay(100)
            store.createVisit(routineVisit(storeId))
            assertTrue(withTimeout(10_000) { reloads.receive() } > 0)
            watching.cancel()
        }
    }

    @Test
    fun todays_visits_list_the_users_visits_and_re_emit_after_a_new_one(@TempDir dir: Path) = runBlocking {
        phone(dir).use { store ->
            val storeId = store.local { createStore(newStore("330100000601")) }
            val lists = Channel<Int>(Channel.UNLIMITED)
            val collecting = launch { store.visitsOfDay().collect { lists.send(it.size) } }
            assertEquals(0, withTimeout(10_000) { lists.receive() })
            store.createVisit(routineVisit(storeId))
            assertEquals(1, withTimeout(10_000) { lists.receive() })
            collecting.cancel()
        }
    }

    @Test
    fun document_changes_made_while_the_collector_is_busy_are_merged_not_dropped(@TempDir dir: Path) = runBlocking {
        phone(dir).use { store ->
            val storeId = store.local { createStore(newStore("330100000701")) }
            val heard = mutableSetOf<String>()
            val gate = Channel<Unit>()
            val collecting = launch {
                store.documentChanges.collect { change ->
                    gate.receive()
                    heard += change.ids
                }
            }
            delay(100)
            // 200 writes while the collector waits at the gate: the old 64-slot buffer
            // dropped what did not fit.
            val visits = (1..200).map { store.createVisit(routineVisit(storeId)) }
            var rounds = 0
            while (!heard.containsAll(visits) && rounds < 300) {
                withTimeoutOrNull(100) { gate.send(Unit) }
                rounds++
            }
            assertTrue(heard.containsAll(visits), "heard ${heard.size} of ${visits.size}")
            assertTrue(rounds < 250, "merged into few events, took $rounds")
            collecting.cancel()
        }
    }

    @Test
    fun the_live_store_list_re_emits_when_a_sync_brings_a_visit_from_another_phone(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir) {
            addUser("am-li", "account_manager", "Li Wei")
            importStores("330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,0,0,,am-li")
        }.use { server ->
            val phoneA = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
            val phoneB = server.enroll(server.admin().enrollCode("am-li"), "Li's tablet")
            phone(phoneDir, phoneA.userId, phoneA.deviceId).use { a ->
                phone(phoneDir, phoneB.userId, phoneB.deviceId).use { b ->
                    FieldsyncSync(a, server.url, phoneA.token).use { syncA ->
                        FieldsyncSync(b, server.url, phoneB.token).use { syncB ->
                            syncA.syncNow()
                            syncB.syncNow()
                            val pages = Channel<StorePage>(Channel.UNLIMITED)
                            val collecting = launch { b.storeList().collect { pages.send(it) } }
                            val before = withTimeout(10_000) { pages.receive() }.rows.single()
                            assertNull(before.lastVisit)
                            a.createVisit(routineVisit(before.id))
                            syncA.syncNow()
                            syncB.syncNow()
                            val after = withTimeout(10_000) { pages.receive() }.rows.single()
                            assertNotNull(after.lastVisit)
                            assertEquals(false, after.visitDue)
                            collecting.cancel()
                        }
                    }
                }
            }
        }
    }

    @Test
    fun two_phones_marking_one_standard_offline_list_the_display_in_conflict_after_they_sync(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir) {
            addUser("am-li", "account_manager", "Li Wei")
            importStores("330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,0,0,,am-li")
        }.use { server ->
            val phoneA = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
            val phoneB = server.enroll(server.admin().enrollCode("am-li"), "Li's tablet")
            phone(phoneDir, phoneA.userId, phoneA.deviceId).use { a ->
                phone(phoneDir, phoneB.userId, phoneB.deviceId).use { b ->
                    val syncA = FieldsyncSync(a, server.url, phoneA.token)
                    val syncB = FieldsyncSync(b, server.url, phoneB.token)
                    syncA.syncNow()
                    syncB.syncNow()
                    val lists = Channel<List<String>>(Channel.UNLIMITED)
                    val collecting = launch { a.documentsInConflict().collect { l -> lists.send(l.map { it.id }) } }
                    assertEquals(emptyList<String>(), withTimeout(10_000) { lists.receive() })
                    val displayId = a.shelfDisplayOf(a.stores().single().id).id
                    a.markDisplayStandard(displayId, DisplayStandard.PRICE_TAGS, Verdict.FAIL)
                    b.markDisplayStandard(displayId, DisplayStandard.PRICE_TAGS, Verdict.PASS)
                    syncA.syncNow()
                    syncB.syncNow()
                    syncA.syncNow()
                    assertEquals(listOf(displayId), withTimeout(10_000) { lists.receive() })
                    collecting.cancel()
                    syncA.close()
                    syncB.close()
                }
            }
        }
    }
}
