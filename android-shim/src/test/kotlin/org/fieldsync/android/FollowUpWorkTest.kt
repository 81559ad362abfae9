package org.fieldsync.android

import kotlinx.coroutines.runBlocking
import org.fieldsync.ffi.ClockState
import org.fieldsync.ffi.ComplaintEvent
import org.fieldsync.ffi.ComplaintKind
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.ScoreDimension
import org.fieldsync.ffi.TaskState
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.OffsetDateTime
import java.time.Duration
import java.time.Instant
import java.time.YearMonth

/** The work that follows a visit: complaints with their clocks, tasks, scorecards (offline). */
class FollowUpWorkTest {

    /** Monday 16 November 2026, 10:00 in the district (UTC+8): working hours, in the past. */
    private val mondayTen = OffsetDateTime.parse("2026-11-16T10:00:00+08:00").toInstant()

    @Test
    fun an_urban_complaint_met_on_site_within_the_hour_has_its_handling_clock_running(
        @TempDir dir: Path,
    ) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
            val storeId = store.local { createStore(newStore("330100000101")) }
            val id = store.createComplaint(storeId, ComplaintKind.COMPLAINT, "sold a damaged carton", mondayTen)
            store.recordComplaintEvent(id, ComplaintEvent.ON_SITE, mondayTen.plus(Duration.ofMinutes(45)), "with the owner")

            val clocks = store.clocksOfComplaint(id, asOf = mondayTen.plus(Duration.ofHours(2))).associate { it.event to it.state }
            assertEquals(ClockState.Met(mondayTen.plus(Duration.ofMinutes(45)), mondayTen.plus(Duration.ofHours(1))), clocks[ComplaintEvent.ON_SITE])
            assertEquals(ClockState.Running(mondayTen.plus(Duration.ofHours(72))), clocks[ComplaintEvent.HANDLED])
            assertEquals(ClockState.NotStarted, clocks[ComplaintEvent.CALLBACK])

            // Three days later nobody handled it: the handling clock is breached.
            val late = store.clocksOfComplaint(id, asOf = mondayTen.plus(Duration.ofHours(73))).associate { it.event to it.state }
            assertEquals(ClockState.Breached(mondayTen.plus(Duration.ofHours(72)), null), late[ComplaintEvent.HANDLED])

            val open = store.complaintClocks(asOf = mondayTen.plus(Duration.ofHours(2)))
            assertEquals(listOf(id), open.map { it.id })
            assertEquals(listOf(ComplaintEvent.HANDLED, ComplaintEvent.CALLBACK), open.single().outstanding)
            assertTrue(store.complaint(id).onSiteApplies)
        }
    }

    @Test
    fun a_task_goes_through_its_states_and_an_illegal_move_is_a_typed_rejection(
        @TempDir dir: Path,
    ) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "sup-zhao", "phone-9").use { store ->
            val storeId = store.local { createStore(newStore("330100000102")) }
            val id = store.createTask(
                storeId, "replace the faded price-tag box", assignee = "am-li",
                deadline = Instant.now().plus(Duration.ofHours(48)),
            )
            store.moveTask(id, TaskState.IN_PROGRESS)

            val illegal = assertThrows<FieldException.Rejected> {
                runBlocking { store.moveTask(id, TaskState.VERIFIED) }
            }
            assertTrue(illegal.readable.contains("`in_progress` to `verified`"), illegal.readable)
            assertEquals(TaskState.IN_PROGRESS, store.task(id).state.current.value, "nothing written")

            val noPhoto = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.moveTask(id, TaskState.SUBMITTED) }
            }
            assertEquals("after_photos", noPhoto.field)

            store.addTaskPhoto(id, PHOTO, "new box")
            store.moveTask(id, TaskState.SUBMITTED)
            assertEquals(listOf(TaskState.SUBMITTED), store.openTasks("am-li").map { it.state })
            store.moveTask(id, TaskState.VERIFIED)
            assertEquals(TaskState.VERIFIED, store.task(id).state.current.value)
            assertTrue(store.openTasks("am-li").isEmpty(), "a verified task is not open")
        }
    }

    @Test
    fun a_scorecard_totals_its_four_dimensions_and_passes_at_the_pass_mark(
        @TempDir dir: Path,
    ) = runBlocking {
        FieldsyncStore.open(dir.resolve("phone.db").toString(), "sup-zhao", "phone-9").use { store ->
            val id = store.createScorecard("am-li", YearMonth.of(2026, 11))
            store.scoreDimension(id, ScoreDimension.VISIT_FREQUENCY, 20.0)
            store.scoreDimension(id, ScoreDimension.BRAND_PROMOTION, 20.0)
            store.scoreDimension(id, ScoreDimension.TERMINAL_IMAGE, 20.0)
            assertEquals(null, store.scorecardOutcome(id).total, "three of four scored")

            store.scoreDimension(id, ScoreDimension.SERVICE_ATTITUDE, 19.9)
            val failing = store.scorecardOutcome(id)
            assertEquals(79.9, failing.total)
            assertEquals(false, failing.passes)

            store.scoreDimension(id, ScoreDimension.SERVICE_ATTITUDE, 20.0)
            store.setScorecardEvidence(id, ScoreDimension.SERVICE_ATTITUDE, "owners praise the visits")
            val card = store.scorecard(id)
            assertEquals(80.0, card.outcome.total)
            assertEquals(true, card.outcome.passes)
            assertEquals(false, card.outcome.bonus)
            assertEquals("owners praise the visits", card.dimensions.last().evidence)

            val tooHigh = assertThrows<FieldException.InvalidInput> {
                runBlocking { store.scoreDimension(id, ScoreDimension.TERMINAL_IMAGE, 25.5) }
            }
            assertEquals("scores.terminal_image", tooHigh.field)
        }
    }
}
