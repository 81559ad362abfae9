package org.fieldsync.android

import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import org.fieldsync.ffi.CheckPointRecord
import org.fieldsync.ffi.NewVisitRecord
import org.fieldsync.ffi.VisitKind
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.OffsetDateTime
import java.time.Duration
import java.time.LocalDate

/** The library's clock set from a test through the bindings: a week played in a few calls. */
class TestClockTest {

    private fun at(text: String) = OffsetDateTime.parse(text).toInstant()

    @Test
    fun a_test_clock_plays_the_weeks_of_r1_through_the_bindings(@TempDir dir: Path) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val monday = at("2026-11-23T10:00:00+08:00")
            store.local { setClockForTests(monday) }
            val storeId = store.local { createStore(newStore("330100000901")) }
            assertEquals(LocalDate.of(2026, 11, 23), store.local { today() })
            assertEquals(listOf(storeId), store.storesDueVisit().map { it.storeId })

            store.createVisit(NewVisitRecord(storeId, VisitKind.ROUTINE, CheckPointRecord(monday, null), null))
            assertEquals(emptyList<String>(), store.storesDueVisit().map { it.storeId })
            assertEquals(false, store.storeList().first().rows.single().visitDue)

            // A week later the store is due again, with no wall-clock wait.
            store.local { setClockForTests(monday.plus(Duration.ofDays(7))) }
            assertEquals(LocalDate.of(2026, 11, 30), store.local { today() })
            assertEquals(listOf(storeId), store.storesDueVisit().map { it.storeId })
            assertEquals(true, store.storeList().first().rows.single().visitDue)

            store.local { setClockForTests(null) }
        }
    }
}
