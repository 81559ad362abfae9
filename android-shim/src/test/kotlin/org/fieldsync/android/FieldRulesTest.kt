package org.fieldsync.android

import kotlinx.coroutines.runBlocking
import org.fieldsync.ffi.CheckPointRecord
import org.fieldsync.ffi.Datum
import org.fieldsync.ffi.ErrorRateState
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.FollowUpAction
import org.fieldsync.ffi.GpsFixRecord
import org.fieldsync.ffi.NewCountLineRecord
import org.fieldsync.ffi.NewVisitRecord
import org.fieldsync.ffi.SkuCount
import org.fieldsync.ffi.TerminalRating
import org.fieldsync.ffi.VisitKind
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.nio.file.Paths
import java.time.Duration
import java.time.Instant
import java.time.LocalDate

/** The rule fixes as an app meets them: R3's zero book, R7's notice, R9's calendar, datums. */
class FieldRulesTest {

    @Test
    fun a_count_with_no_book_stock_reports_its_difference_and_an_undefined_rate(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val storeId = store.local { createStore(newStore("330100000201")) }
            val lines = listOf(NewCountLineRecord("sku-1", "Yuxi", 0), NewCountLineRecord("sku-2", "Liqun", 0))
            val id = store.recordInventoryCount(storeId, lines, listOf(SkuCount("sku-1", 4), SkuCount("sku-2", 6)), true)
            val rate = store.inventoryCount(id).errorRate
            assertEquals(ErrorRateState.UNDEFINED, rate.state)
            assertEquals(10L, rate.absDiff)
            assertNull(rate.ratio)
            val fresh = store.createInventoryCount(storeId, lines)
            assertEquals(ErrorRateState.NOTHING_COUNTED, store.inventoryCount(fresh).errorRate.state)
        }
    }

    @Test
    fun only_a_notice_answering_the_unqualified_rating_marks_r7_done(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val storeId = store.local { createStore(newStore("330100000202").copy(rating = TerminalRating.UNQUALIFIED)) }
            val deadline = Instant.now().plus(Duration.ofHours(240))
            store.createTask(storeId, "replace the light bulb", assignee = "am-li", deadline = deadline)
            suspend fun notice() = store.terminalFollowUps().single { it.action == FollowUpAction.RECTIFICATION_NOTICE }
            assertEquals(false, notice().done, "an unrelated task is not the notice")
            store.openRectificationNotice(storeId, "rectification notice", assignee = "am-li", deadline = deadline)
            assertEquals(true, notice().done)

            val good = store.local { createStore(newStore("330100000203")) }
            val refused = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.openRectificationNotice(good, "notice", "am-li", deadline) }
            }
            assertEquals("origin", refused.field)
        }
    }

    @Test
    fun a_store_opened_with_the_2026_calendar_skips_the_spring_festival(@TempDir dir: Path) = runBlocking {
        val calendar = Paths.get("../docs/calendars/china-2026.txt").toFile().readText()
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7", calendar).use { store ->
            assertEquals(listOf(2026), store.local { calendarYears() })
            assertEquals(false, store.local { isWorkingDay(LocalDate.of(2026, 2, 16)) }, "a Monday of the holiday")
            assertEquals(true, store.local { isWorkingDay(LocalDate.of(2026, 2, 14)) }, "a make-up Saturday")
        }
        val bad = assertThrows<FieldException.InvalidInput> {
            runBlocking { FieldsyncStore.open(dir.resolve("other.db").toString(), "am-li", "p", "year 2026\nworkday 2026-02-16") }
        }
        assertEquals("calendar", bad.field)
    }

    @Test
    fun a_shop_picked_on_an_amap_map_is_in_range_of_a_gps_fix_at_its_door(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            // Beijing railway station: GCJ-02 (39.90245, 116.42703) is WGS-84 (39.90105, 116.42079).
            val storeId = store.local {
                createStore(newStore("330100000204").copy(lat = 39.90245, lng = 116.42703, datum = Datum.GCJ02))
            }
            val fix = GpsFixRecord(39.90105, 116.42079, 6.0, Datum.WGS84)
            val visit = store.createVisit(
                NewVisitRecord(storeId, VisitKind.ROUTINE, CheckPointRecord(Instant.now(), fix), null),
            )
            val checkIn = store.visit(visit).checkIn
            assertEquals(true, checkIn.inRange)
            assertTrue(checkIn.distanceM!! < 10.0, "${checkIn.distanceM} m")
        }
    }

    @Test
    fun the_market_teams_walk_and_the_supervisors_sample_are_read_by_visit_kind(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "sup-wang", "tablet-1").use { store ->
            val walked = store.local { createStore(newStore("330100000205")) }
            val unwalked = store.local { createStore(newStore("330100000206")) }
            val plain = store.local { createStore(newStore("330100000207").copy(demoStreet = false)) }
            val now = Instant.now()
            store.createVisit(NewVisitRecord(walked, VisitKind.MARKET_WALKTHROUGH, CheckPointRecord(now, null), null))
            store.createVisit(NewVisitRecord(unwalked, VisitKind.ROUTINE, CheckPointRecord(now, null), null))
            assertEquals(listOf(unwalked), store.demoStreetUnwalked().map { it.storeId }, "a routine visit is no walk")
            assertEquals(listOf(unwalked), store.demoStreetUnwalked("am-li").map { it.storeId })
            assertEquals(emptyList<String>(), store.demoStreetUnwalked("am-wu").map { it.storeId })

            store.createVisit(NewVisitRecord(plain, VisitKind.SUPERVISION_SPOT_CHECK, CheckPointRecord(now, null), null))
            val month = store.supervisionMonth("am-li")
            assertEquals(1, month.storesSpotChecked.toInt())
            assertEquals(2, month.demoStreetStores.toInt())
            assertTrue(month.spotChecked)
            assertEquals(false, month.demoStreetSampledOk, "no demo-street store among the spot checks")
            store.createVisit(NewVisitRecord(walked, VisitKind.SUPERVISION_SPOT_CHECK, CheckPointRecord(now, null), null))
            assertTrue(store.supervisionMonth("am-li").demoStreetSampledOk)
            // Stores made just now are owed no week that has already ended.
            val weeks = store.weeksMissed("am-li", LocalDate.now())
            assertTrue(weeks.all { it.storeIds.isEmpty() }, "$weeks")
            assertTrue(weeks.all { it.weekStart.dayOfWeek == java.time.DayOfWeek.MONDAY }, "$weeks")
        }
    }

    @Test
    fun a_phone_enrolled_before_stores_kept_roles_is_given_its_role_and_then_refuses_another_roles_visit(@TempDir dir: Path) = runBlocking<Unit> {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val storeId = store.local { createStore(newStore("330100000208")) }
            val spotCheck = NewVisitRecord(storeId, VisitKind.SUPERVISION_SPOT_CHECK, CheckPointRecord(Instant.now(), null), null)
            store.createVisit(spotCheck) // no role known: left to the server
            val unknown = assertThrows<FieldException.InvalidInput> { runBlocking { store.recordRole("boss") } }
            assertEquals("role", unknown.field)
            store.recordRole("account_manager")
            val refused = assertThrows<FieldException.InvalidInput> { runBlocking { store.createVisit(spotCheck) } }
            assertEquals("kind", refused.field)
            store.createVisit(spotCheck.copy(kind = VisitKind.ROUTINE))
        }
    }
}
