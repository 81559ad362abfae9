package org.fieldsync.android

import org.fieldsync.ffi.NewTaskRecord
import org.fieldsync.ffi.TaskDueRecord
import org.fieldsync.ffi.TaskOrigin
import org.fieldsync.ffi.TaskRecord
import org.fieldsync.ffi.TaskState
import java.time.Instant

// Rectification tasks (限期整改), off the caller's thread. A move the state machine does not
// allow throws FieldException.Rejected; the other refusals throw FieldException.InvalidInput.

/** Opens a task for [assignee] due at [deadline]; returns its id. */
suspend fun FieldsyncStore.createTask(
    storeId: String,
    title: String,
    assignee: String,
    deadline: Instant,
    description: String = "",
    origin: TaskOrigin? = null,
): String = local { createTask(NewTaskRecord(storeId, title, description, assignee, deadline, origin)) }

/**
 * Opens R7's rectification notice of a functional terminal rated unqualified: a task that
 * answers the store's current rating (only such a task counts as the notice). Throws
 * `FieldException.InvalidInput` for `origin` when the store is not rated unqualified.
 */
suspend fun FieldsyncStore.openRectificationNotice(
    storeId: String,
    title: String,
    assignee: String,
    deadline: Instant,
    description: String = "",
): String = local {
    // An unrated store has no rating to answer: the epoch names none, and the core refuses it.
    val ratedAt = store(storeId).ratedAt ?: Instant.EPOCH
    createTask(NewTaskRecord(storeId, title, description, assignee, deadline, TaskOrigin.Rating(ratedAt)))
}

suspend fun FieldsyncStore.task(id: String): TaskRecord = local { task(id) }

/** Moves a task to [to]; reopening needs a [note] saying why. */
suspend fun FieldsyncStore.moveTask(id: String, to: TaskState, note: String? = null) = local { moveTask(id, to, note) }

/** Adds an after photo by content hash (`sha256:` + 64 hex digits). */
suspend fun FieldsyncStore.addTaskPhoto(id: String, hash: String, caption: String = "") =
    local { addTaskPhoto(id, hash, caption) }

/** Tasks of [assignee] not verified yet, soonest deadline first, overdue ones marked. */
suspend fun FieldsyncStore.openTasks(assignee: String = userId, asOf: Instant? = null): List<TaskDueRecord> =
    local { openTasks(assignee, asOf) }
