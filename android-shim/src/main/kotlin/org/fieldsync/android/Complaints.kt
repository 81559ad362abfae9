package org.fieldsync.android

import org.fieldsync.ffi.ComplaintClocksRecord
import org.fieldsync.ffi.ComplaintEvent
import org.fieldsync.ffi.ComplaintKind
import org.fieldsync.ffi.ComplaintRecord
import org.fieldsync.ffi.NewComplaintRecord
import org.fieldsync.ffi.ServiceClockRecord

// Complaints and service requests (R9 clocks, R10 commitments), off the caller's thread.
// Instants are epoch milliseconds; an `asOfMs` left null is now.

/** Records a complaint or request of [storeId] received at [receivedAtMs]; returns its id. */
suspend fun FieldsyncStore.createComplaint(
    storeId: String,
    kind: ComplaintKind,
    description: String,
    receivedAtMs: Long = System.currentTimeMillis(),
): String = local { createComplaint(NewComplaintRecord(storeId, kind, receivedAtMs, description)) }

suspend fun FieldsyncStore.complaint(id: String): ComplaintRecord = local { complaint(id) }

/** Records that [event] happened at [happenedAtMs] (now by default); again to correct it. */
suspend fun FieldsyncStore.recordComplaintEvent(
    id: String,
    event: ComplaintEvent,
    happenedAtMs: Long = System.currentTimeMillis(),
    note: String = "",
) = local { recordComplaintEvent(id, event, happenedAtMs, note) }

/** The clocks of one complaint as of [asOfMs]: running, met, breached, not started or n/a. */
suspend fun FieldsyncStore.clocksOfComplaint(id: String, asOfMs: Long? = null): List<ServiceClockRecord> =
    local { clocksOfComplaint(id, asOfMs) }

/** Every complaint of [manager]'s territory open at [asOfMs], oldest first, with its clocks. */
suspend fun FieldsyncStore.complaintClocks(manager: String = userId, asOfMs: Long? = null): List<ComplaintClocksRecord> =
    local { complaintClocks(manager, asOfMs) }
