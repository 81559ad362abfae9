package org.fieldsync.android

import java.time.Instant
import org.fieldsync.ffi.ComplaintClocksRecord
import org.fieldsync.ffi.ComplaintEvent
import org.fieldsync.ffi.ComplaintKind
import org.fieldsync.ffi.ComplaintRecord
import org.fieldsync.ffi.NewComplaintRecord
import org.fieldsync.ffi.ServiceClockRecord

// Complaints and service requests (R9 clocks, R10 commitments), off the caller's thread.
// An `asOf` left null is now.

/** Records a complaint or request of [storeId] received at [receivedAt]; returns its id. */
suspend fun FieldsyncStore.createComplaint(
    storeId: String,
    kind: ComplaintKind,
    description: String,
    receivedAt: Instant = Instant.now(),
): String = local { createComplaint(NewComplaintRecord(storeId, kind, receivedAt, description)) }

suspend fun FieldsyncStore.complaint(id: String): ComplaintRecord = local { complaint(id) }

/** Records that [event] happened at [happenedAt] (now by default); again to correct it. */
suspend fun FieldsyncStore.recordComplaintEvent(
    id: String,
    event: ComplaintEvent,
    happenedAt: Instant = Instant.now(),
    note: String = "",
) = local { recordComplaintEvent(id, event, happenedAt, note) }

/** The clocks of one complaint as of [asOf]: running, met, breached, not started or n/a. */
suspend fun FieldsyncStore.clocksOfComplaint(id: String, asOf: Instant? = null): List<ServiceClockRecord> =
    local { clocksOfComplaint(id, asOf) }

/** Every complaint of [manager]'s territory open at [asOf], oldest first, with its clocks. */
suspend fun FieldsyncStore.complaintClocks(manager: String = userId, asOf: Instant? = null): List<ComplaintClocksRecord> =
    local { complaintClocks(manager, asOf) }
