package org.fieldsync.android

import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.withTimeout
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.SyncReportRecord
import java.time.Duration
import java.time.Instant

/**
 * What one background sync came to, in the three answers a WorkManager worker gives:
 * `Result.success()`, `Result.retry()`, `Result.failure()` (docs/android.md shows the
 * worker). WorkManager itself is not a dependency of this library.
 */
sealed interface SyncOutcome {
    /** Everything pending was pushed and everything new pulled. */
    data class Success(val report: SyncReportRecord) : SyncOutcome

    /**
     * Worth trying again later: offline, the server unavailable, or the caller's deadline
     * came first. [error] is null when the deadline ended it.
     */
    data class Retry(val error: FieldException?) : SyncOutcome

    /** Trying again will not help until someone acts: enroll again, fix a record, storage. */
    data class Failure(val error: FieldException) : SyncOutcome
}

/**
 * One sync for a background worker: never throws a [FieldException] (it becomes an
 * outcome), and never runs past [deadline] (by [now], the system clock by default; the
 * library's own retries inside the call stop with it, and a push cut short leaves its
 * records "saved on phone"). A deadline already passed is a [SyncOutcome.Retry] at once.
 * Cancellation of the calling coroutine (WorkManager stopping the worker) is rethrown.
 */
suspend fun FieldsyncSync.syncOnce(
    deadline: Instant,
    now: () -> Instant = Instant::now,
): SyncOutcome {
    val budget = Duration.between(now(), deadline).toMillis()
    if (budget <= 0) return SyncOutcome.Retry(null)
    return try {
        SyncOutcome.Success(withTimeout(budget) { syncNow() })
    } catch (e: TimeoutCancellationException) {
        SyncOutcome.Retry(null)
    } catch (e: FieldException) {
        if (e.isTransient) SyncOutcome.Retry(e) else SyncOutcome.Failure(e)
    }
}

