package org.fieldsync.android

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import org.fieldsync.ffi.FieldException

/**
 * Whether the phone can reach the network, as a Flow. The app implements it from Android's
 * ConnectivityManager (a `NetworkCallback` in a `callbackFlow`, see docs/android.md); tests
 * use a MutableStateFlow.
 */
fun interface ConnectivitySource {
    fun online(): Flow<Boolean>
}

/**
 * Syncs when connectivity returns and when the app asks ([requestSync], e.g. after saving a
 * visit), retrying transient failures with the library's backoff (exponential, jitter)
 * while the phone stays online, and never sooner than a busy server asked
 * ([FieldException.Busy], its `Retry-After`). A failure the user must act on (unauthorized, rejected,
 * storage) is not retried: it waits for the next request or reconnection. Any other
 * exception (a bug in a hook) goes to `onError` and the scheduler goes on; only
 * cancellation ends it.
 *
 * Syncs never overlap; requests made during a sync are merged into one more sync after it.
 * For work that must survive the process, pair it with a WorkManager worker (docs/android.md).
 */
class SyncScheduler(
    private val scope: CoroutineScope,
    private val connectivity: ConnectivitySource,
    private val sync: suspend () -> Unit,
    private val backoffMillis: (attempt: Int) -> Long,
    private val onRetry: (error: FieldException, inMillis: Long) -> Unit = { _, _ -> },
    /** Told of any other exception a sync threw (a bug); the scheduler goes on. */
    private val onError: (Throwable) -> Unit = {},
) : AutoCloseable {

    /** Schedules [sync]'s `syncNow`, with its backoff, reporting retries in its status. */
    constructor(scope: CoroutineScope, connectivity: ConnectivitySource, sync: FieldsyncSync) :
        this(scope, connectivity, { sync.syncNow() }, sync::backoffMillis, sync::retrying)

    private val online = MutableStateFlow(false)
    private val wake = Channel<Unit>(Channel.CONFLATED)
    private var job: Job? = null

    /** Starts following connectivity; a sync runs as soon as the phone is online. */
    fun start(): SyncScheduler {
        if (job != null) return this
        job = scope.launch {
            launch {
                connectivity.online().distinctUntilChanged().collect { up ->
                    online.value = up
                    if (up) wake.trySend(Unit)
                }
            }
            for (signal in wake) {
                if (online.value) syncWithBackoff()
            }
        }
        return this
    }

    /** Asks for a sync soon (now if online, else when connectivity returns). */
    fun requestSync() {
        wake.trySend(Unit)
    }

    private suspend fun syncWithBackoff() {
        var attempt = 0
        while (online.value) {
            try {
                sync()
                return
            } catch (e: CancellationException) {
                throw e
            } catch (e: FieldException) {
                if (!e.isTransient) return
                // A busy server's `Retry-After` is a floor under the backoff.
                val wait = maxOf(backoffMillis(attempt++), e.retryAfterMillis ?: 0L)
                onRetry(e, wait)
                // Going offline ends the retries: reconnection starts a fresh round.
                val wentOffline = withTimeoutOrNull(wait) { online.first { !it } }
                if (wentOffline != null) return
            } catch (e: Throwable) {
                // Anything else is a bug in a hook, not the network: report it and wait for
                // the next request, rather than let it end the scheduler (and its scope).
                onError(e)
                return
            }
        }
    }

    override fun close() {
        job?.cancel()
        job = null
    }
}
