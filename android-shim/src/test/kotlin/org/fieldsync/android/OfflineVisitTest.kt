package org.fieldsync.android

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.fieldsync.ffi.DisplayStandard
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.ReceiptState
import org.fieldsync.ffi.SkuCount
import org.fieldsync.ffi.Verdict
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.LocalDate

/** A day's work with no network: Kotlin → generated bindings → JNA → the Rust core. */
class OfflineVisitTest {

    @Test
    fun a_visit_recorded_offline_with_a_display_check_and_counts_reads_back_and_answers_the_rules(
        @TempDir dir: Path,
    ) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val storeId = store.local { createStore(newStore("330100000001")) }
            assertEquals(listOf(storeId), store.storesDueVisit().map { it.storeId })

            val visitId = store.createVisit(routineVisit(storeId))
            val displayId = store.local { createShelfDisplay(storeId) }
            store.recordDisplayCheck(displayId, displayCheck())
            store.markDisplayStandard(displayId, DisplayStandard.BRIGHT_STOREFRONT, Verdict.PASS)
            val countId = store.createInventoryCount(storeId, countLines)
            store.setCounted(countId, "sku-101", 40)
            store.setCounted(countId, "sku-102", 45)
            store.finishCount(countId)
            store.linkVisit(visitId, displayId, countId)
            store.appendVisitNotes(visitId, "owner asks for more Liqun")
            store.addVisitPhoto(visitId, PHOTO, "counter")
            store.checkOutVisit(visitId, checkPoint())

            val visit = store.visit(visitId)
            assertEquals("am-li", visit.visitor)
            assertEquals(storeId, visit.storeId)
            assertEquals(true, visit.checkIn.inRange)
            assertNotNull(visit.checkOut)
            assertFalse(visit.outOfRange)
            assertEquals(displayId, visit.shelfDisplayId)
            assertEquals(countId, visit.inventoryCountId)
            assertEquals("owner asks for more Liqun", visit.notes)
            assertEquals(listOf(PHOTO), visit.photos.map { it.hash })

            val display = store.shelfDisplayOf(storeId)
            assertEquals(displayId, display.id)
            assertEquals(listOf("sku-102", "sku-103", "sku-104", "sku-105"), display.missingPriceTags.sorted())
            assertTrue(display.violatesPriceTagRule)
            assertEquals(listOf(DisplayStandard.PRICE_TAGS), display.failedStandards)
            val tidy = display.standards.first { it.standard == DisplayStandard.TIDY_COUNTER }.check
            assertEquals("am-li", tidy?.current?.by)
            assertEquals(false, tidy?.conflict)

            val count = store.inventoryCount(countId)
            assertEquals("am-li", count.finishedBy)
            assertEquals(listOf(0L, -15L), count.lines.map { it.variance })
            assertEquals(15L, count.errorRate.absDiff)
            assertEquals(100L, count.errorRate.bookTotal)
            assertTrue(count.errorRate.exceedsLimit)

            // The rule queries answer from the phone's index, with no network.
            assertTrue(store.storesDueVisit().isEmpty(), "the visit covers this week")
            assertEquals(listOf(4u), store.local { storesMissingPriceTags("am-li") }.map { it.missing })
            assertEquals(listOf(countId), store.local { countFindings("am-li") }.map { it.countId })
            assertTrue(store.local { demoStreetUnchecked("am-li", null) }.isEmpty())
            val month = store.local { monthlyVisits("am-li", null, null) }
            assertEquals(1u, month.made)
            assertEquals(4u, month.required)

            assertEquals(ReceiptState.SavedOnPhone, store.receipt(visitId))
            assertEquals(4, store.local { pendingDocuments() }.size, "store, visit, display, count")
        }
    }

    @Test
    fun a_count_recorded_whole_is_finished_in_one_change_and_a_check_that_changes_nothing_is_kept(
        @TempDir dir: Path,
    ) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val storeId = store.local { createStore(newStore("330100000001")) }
            val countId = store.recordInventoryCount(
                storeId,
                countLines,
                listOf(SkuCount("sku-101", 40), SkuCount("sku-102", 45)),
                true,
            )
            val count = store.inventoryCount(countId)
            assertEquals("am-li", count.finishedBy)
            assertEquals(listOf(0L, -15L), count.lines.map { it.variance })
            assertEquals(1, store.history(countId).size)
            val missing = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.recordInventoryCount(storeId, countLines, listOf(SkuCount("sku-101", 40)), true) }
            }
            assertEquals("lines", missing.field)

            val displayId = store.local { createShelfDisplay(storeId) }
            val productsOnly = displayCheck().copy(standards = emptyList(), newProductZone = null)
            // Every check leaves its checker's mark, the one that wrote products as the one
            // that changed nothing (R5 counts it).
            store.recordDisplayCheck(displayId, productsOnly)
            assertEquals(listOf("am-li"), store.shelfDisplay(displayId).confirmed.map { it.by })
            store.recordDisplayCheck(displayId, productsOnly)
            assertEquals(listOf("am-li"), store.shelfDisplay(displayId).confirmed.map { it.by })
        }
    }

    @Test
    fun invalid_input_is_a_typed_exception_naming_the_field_and_nothing_is_written(
        @TempDir dir: Path,
    ) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val storeId = store.local { createStore(newStore("330100000002")) }
            val countId = store.createInventoryCount(storeId, countLines)

            val negative = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.setCounted(countId, "sku-101", -3) }
            }
            assertTrue(negative.field.startsWith("count"), negative.field)
            assertTrue(negative.readable.startsWith("The value given for `"), negative.readable)
            assertEquals(null, store.inventoryCount(countId).lines.first().counted)

            val badId = assertThrows<FieldException.InvalidInput> { runBlocking { store.visit("shop-17") } }
            assertEquals("id", badId.field)
            val badVolume = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.local { createStore(newStore("330100000003").copy(monthlyVolume = -1)) } }
            }
            assertEquals("monthly_volume", badVolume.field)
            val badDay = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.storesDueVisit(day = LocalDate.of(10_000, 1, 1)) }
            }
            assertEquals("day", badDay.field)

            val unknown = java.util.UUID.randomUUID().toString()
            val missing = assertThrows<FieldException.NotFound> { runBlocking { store.visit(unknown) } }
            assertTrue(missing.readable.contains(unknown), missing.readable)
        }
    }

    @Test
    fun a_private_ca_root_that_is_not_pem_is_a_typed_exception_naming_the_field(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val refused = assertThrows<FieldException.InvalidInput> {
                FieldsyncSync(store, "https://127.0.0.1:1", "token", extraRootPem = "our district CA")
            }
            assertEquals("extra_root_pem", refused.field)
        }
    }

    @Test
    fun every_write_is_announced_until_the_subscription_is_closed(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val storeId = store.local { createStore(newStore("330100000005")) }
            val visitId = store.createVisit(routineVisit(storeId))
            val firstReceipt = CompletableDeferred<Unit>()
            val seen = async {
                store.receipts(visitId).take(1).toList().also { firstReceipt.complete(Unit) }
            }
            withTimeout(10_000) { firstReceipt.await() }
            assertEquals(listOf(ReceiptState.SavedOnPhone), seen.await())

            val changes = async { store.documentChanges.first() }
            // The collector subscribes on its own coroutine: wait until a write is heard.
            var change: org.fieldsync.ffi.DocumentsChanged? = null
            withTimeout(10_000) {
                while (!changes.isCompleted) {
                    store.appendVisitNotes(visitId, ".")
                    kotlinx.coroutines.delay(20)
                }
                change = changes.await()
            }
            assertEquals(listOf(visitId), change?.ids)
            assertEquals(false, change?.fromSync)

            // Closing the subscription by hand: the listener is not called any more.
            var heard = 0
            val subscription = store.raw.subscribe(object : org.fieldsync.ffi.DocumentsListener {
                override fun onDocumentsChanged(change: org.fieldsync.ffi.DocumentsChanged) {
                    heard++
                }
            })
            store.appendVisitNotes(visitId, "a")
            subscription.close()
            store.appendVisitNotes(visitId, "b")
            assertEquals(1, heard)
        }
    }
}
