package org.fieldsync.android

import kotlinx.coroutines.runBlocking
import org.fieldsync.ffi.CheckPointRecord
import org.fieldsync.ffi.ComplaintKind
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.NewVisitRecord
import org.fieldsync.ffi.VisitKind
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.Instant
import java.time.LocalDate
import java.time.YearMonth

/**
 * The API in Kotlin's own types: instants are `java.time.Instant`, days `LocalDate`, months
 * `YearMonth` (uniffi custom types, converted in the generated bindings), and an error's
 * `message` is a sentence naming what was wrong.
 */
class KotlinTypesTest {

    /** Monday 23 November 2026, 10:00:00.123 in the district (UTC+8): milliseconds kept. */
    private val mondayTen = Instant.parse("2026-11-23T02:00:00.123Z")

    /** The marks of a Rust `Debug` dump or of uniffi's own field list, never in a sentence. */
    private val dumpMarks = listOf("{", "}", "Some(", "None", "field=", "reason=", "detail=", "InvalidInput")

    private fun assertSentenceNaming(e: FieldException, name: String) {
        val message = e.message ?: ""
        assertEquals(e.toString(), message, "message and toString() are the same sentence")
        assertTrue(message.first().isUpperCase() && message.endsWith("."), message)
        assertTrue(message.contains("`$name`"), "names `$name`: $message")
        for (mark in dumpMarks) assertFalse(message.contains(mark), "holds `$mark`: $message")
    }

    @Test
    fun an_instant_round_trips_as_an_instant_through_a_real_store(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            store.local { setClockForTests(mondayTen.plusSeconds(3_600)) }
            val storeId = store.local { createStore(newStore("330100000701")) }
            val visitId = store.createVisit(NewVisitRecord(storeId, VisitKind.ROUTINE, checkPoint(mondayTen), null))
            val checkIn: Instant = store.visit(visitId).checkIn.at
            assertEquals(mondayTen, checkIn)

            val complaintId = store.createComplaint(storeId, ComplaintKind.COMPLAINT, "a damaged carton", mondayTen)
            assertEquals(mondayTen, store.complaint(complaintId).receivedAt)
            assertTrue(store.storesDueVisit(day = LocalDate.of(2026, 11, 23)).isEmpty(), "visited this week")
            assertEquals(mondayTen, store.storeRowsNow().single().lastVisit)
            assertEquals(mondayTen.plusSeconds(3_600), store.history(visitId).first().at, "stamped by the store's clock")
            store.local { setClockForTests(null) }
        }
    }

    @Test
    fun a_day_and_a_month_round_trip_as_local_date_and_year_month(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "sup-zhao", "phone-9").use { store ->
            store.local { setClockForTests(mondayTen) }
            val today: LocalDate = store.local { today() }
            assertEquals(LocalDate.of(2026, 11, 23), today)
            assertEquals(true, store.local { isWorkingDay(today) })
            assertEquals(false, store.local { isWorkingDay(LocalDate.of(2026, 11, 22)) }, "a Sunday")

            val november = YearMonth.of(2026, 11)
            val cardId = store.createScorecard("am-li", november)
            assertEquals(november, store.scorecard(cardId).month)
            assertEquals(listOf(cardId), store.local { scorecardsOf("am-li", november) })
            assertEquals(november, store.local { monthlyVisits("am-li", LocalDate.of(2026, 11, 30), null) }.month)

            store.local { createStore(newStore("330100000702")) }
            val periodStart: LocalDate = store.terminalFollowUps("am-li", today).single().periodStart
            assertEquals(LocalDate.of(2026, 11, 23), periodStart, "a good terminal's ISO week starts on Monday")
            store.local { setClockForTests(null) }
        }
    }

    @Test
    fun a_day_out_of_range_is_refused_with_a_sentence_naming_its_field(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val refused = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.storesDueVisit(day = LocalDate.MAX) }
            }
            assertEquals("day", refused.field)
            assertSentenceNaming(refused, "day")
            assertTrue(refused.reason.contains("`+999999999-12-31` is not a day between"), refused.reason)

            val month = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.createScorecard("am-li", YearMonth.of(10_000, 1)) }
            }
            assertEquals("month", month.field)
            assertSentenceNaming(month, "month")
        }
    }

    @Test
    fun an_instant_beyond_what_a_long_of_milliseconds_holds_is_refused_naming_its_field(
        @TempDir dir: Path,
    ) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val storeId = store.local { createStore(newStore("330100000703")) }
            for (far in listOf(Instant.MAX, Instant.MIN, Instant.parse("+10000-01-01T00:00:00Z"))) {
                val refused = assertThrows<FieldException.InvalidInput> {
                    runBlocking { store.createVisit(NewVisitRecord(storeId, VisitKind.ROUTINE, CheckPointRecord(far, null), null)) }
                }
                assertEquals("check_in.at", refused.field)
                assertSentenceNaming(refused, "check_in.at")
            }
            assertTrue(store.local { visitsOfStore(storeId) }.isEmpty(), "nothing written")
        }
    }

    @Test
    fun an_error_message_is_a_sentence_naming_the_field_without_debug_syntax(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val refused = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.local { createStore(newStore("330100000704").copy(monthlyVolume = -1)) } }
            }
            assertEquals("monthly_volume", refused.field, "the parts stay properties")
            assertTrue(refused.reason.isNotEmpty())
            assertSentenceNaming(refused, "monthly_volume")
            assertTrue(refused.message!!.startsWith("The value given for `monthly_volume` was refused: "), refused.message)

            val missing = assertThrows<FieldException.NotFound> { runBlocking { store.visit(java.util.UUID.randomUUID().toString()) } }
            val text = missing.message ?: ""
            assertTrue(text.first().isUpperCase() && text.endsWith(" on this phone."), text)
            for (mark in dumpMarks) assertFalse(text.contains(mark), "holds `$mark`: $text")
        }
    }
}

/** The first page of the store list, read once. */
private suspend fun FieldsyncStore.storeRowsNow() = local { storeList(org.fieldsync.ffi.StoreListQuery()) }.rows
