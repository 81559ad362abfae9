package org.fieldsync.android

import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.ensureActive

/** What [checkReceived] did over all its batches. */
data class ReceivedCheckSummary(
    /** Documents built, their rows derived on the phone and their chunks compacted. */
    val checked: Int,
    /** Documents whose rows from the server differed from what they say (now replaced): report them. */
    val corrected: List<String>,
    /** Documents that did not read as their kind: listed by `damagedDocuments()` now. */
    val damaged: List<String>,
    /** Documents still to check (more than [maxBatches] batches were needed, or new ones came). */
    val remaining: Int,
)

/**
 * Checks the documents a first sync stored from the server's rows without building them
 * (docs/adr/0036): each is built, its rows derived here replace the server's, and its
 * changes are compacted into a snapshot. Runs [batch] documents at a time, each batch one
 * short hold of the store, until none remain or [maxBatches] batches ran; cancelling the
 * coroutine stops it between batches. Call it from idle-time work after a first sync (the
 * Android guide's `MaintenanceWorker`): a territory of 30,000 documents takes about a
 * minute of a phone's background time.
 */
suspend fun FieldsyncStore.checkReceived(batch: Int = 100, maxBatches: Int = 1_000): ReceivedCheckSummary {
    require(batch in 1..10_000) { "batch must be 1 to 10000, was $batch" }
    require(maxBatches >= 1) { "maxBatches must be at least 1, was $maxBatches" }
    var checked = 0
    val corrected = mutableListOf<String>()
    val damaged = mutableListOf<String>()
    var remaining = 0
    for (round in 1..maxBatches) {
        currentCoroutineContext().ensureActive()
        val done = local { checkReceived(batch.toUInt()) }
        checked += done.checked.toInt()
        corrected += done.corrected
        damaged += done.damaged
        remaining = done.remaining.toInt()
        if (remaining == 0) break
    }
    return ReceivedCheckSummary(checked, corrected, damaged, remaining)
}

/**
 * Folds the saved chunks of up to [maxDocs] documents with at least [minChunks] of them
 * into snapshots; returns how many were compacted. For idle time: reads and edits see no
 * difference, the database file stops growing with every edit.
 */
suspend fun FieldsyncStore.compact(minChunks: Int = 8, maxDocs: Int = 500): Int {
    require(minChunks >= 1 && maxDocs >= 1) { "minChunks and maxDocs must be at least 1" }
    return local { compact(minChunks.toUInt(), maxDocs.toUInt()) }.toInt()
}
