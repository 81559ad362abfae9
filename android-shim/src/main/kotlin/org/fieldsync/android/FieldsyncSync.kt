package org.fieldsync.android

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.fieldsync.ffi.EnrollmentRecord
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.FieldSync
import org.fieldsync.ffi.SyncProgressListener
import org.fieldsync.ffi.SyncProgressRecord
import org.fieldsync.ffi.SyncReportRecord
import org.fieldsync.ffi.SyncSettings
import org.fieldsync.ffi.defaultSyncSettings
import java.time.Instant

/** Where syncing stands, for a status line. */
sealed interface SyncStatus {
    /** No sync has ever completed on this device. */
    data object Idle : SyncStatus

    /**
     * No sync has run in this process yet; the last one that completed ended [at] (the
     * library keeps it in its database, so it survives a restart).
     */
    data class SyncedBefore(val at: Instant) : SyncStatus

    /** A sync is running; [progress] is null until its first event. */
    data class Running(val progress: SyncProgressRecord?) : SyncStatus

    data class Succeeded(val report: SyncReportRecord, val at: Instant) : SyncStatus

    /**
     * The last sync failed. [retryInMillis] is set while a [SyncScheduler] waits to retry
     * (transient failures); null when the user must act (enroll again, fix a record).
     */
    data class Failed(val error: FieldException, val at: Instant, val retryInMillis: Long? = null) : SyncStatus
}

/** Whether waiting and retrying may help: offline or server unavailable. */
val FieldException.isTransient: Boolean
    get() = this is FieldException.Offline || this is FieldException.Busy

/** How long the server asked to wait before the next try (`Retry-After`), if it did. */
val FieldException.retryAfterMillis: Long?
    get() = (this as? FieldException.Busy)?.retryAfterMs?.toLong()

/**
 * A store's sync connection. [syncNow] is a suspend function (the network part runs on the
 * library's own tokio runtime, the local part on its blocking pool); calls never overlap.
 * [status] is a StateFlow of where syncing stands, progress included.
 */
class FieldsyncSync(store: FieldsyncStore, settings: SyncSettings) : AutoCloseable {
    /**
     * A connection with the library's default settings. [extraRootPem]: the PEM root
     * certificate of a district's private CA, trusted besides the bundled Mozilla roots; a
     * malformed one throws `FieldException.InvalidInput` with field `extra_root_pem`.
     * [appVersion]: the app's version as its builders name it (`2.4.1 (381)`), reported to
     * the server in every sync for the supervision console's fleet page (docs/protocol.md,
     * "The device report"); one of more than 64 characters or with control characters
     * throws `FieldException.InvalidInput` with field `device.app_version`.
     */
    constructor(
        store: FieldsyncStore,
        serverUrl: String,
        token: String,
        extraRootPem: String? = null,
        appVersion: String? = null,
    ) : this(
        store,
        defaultSyncSettings(serverUrl, token).copy(extraRootPem = extraRootPem, appVersion = appVersion),
    )

    /** A connection for the device [enrollment] enrolled (its token, kept by the app). */
    constructor(
        store: FieldsyncStore,
        serverUrl: String,
        enrollment: EnrollmentRecord,
        extraRootPem: String? = null,
        appVersion: String? = null,
    ) : this(store, serverUrl, enrollment.token.value, extraRootPem, appVersion)

    /** The generated binding (not public: the suspend functions here run it for apps). */
    internal val raw: FieldSync = FieldSync(store.raw, settings)
    private val running = Mutex()
    private val _status = MutableStateFlow<SyncStatus>(
        store.raw.lastSynced()?.let { SyncStatus.SyncedBefore(it) } ?: SyncStatus.Idle,
    )
    val status: StateFlow<SyncStatus> = _status.asStateFlow()

    /**
     * Pushes what is pending and pulls what is new; throws a [FieldException] when it fails.
     * [status] shows the latest progress (a StateFlow keeps only the newest); [onProgress]
     * hears every event, on the library's thread.
     */
    suspend fun syncNow(onProgress: ((SyncProgressRecord) -> Unit)? = null): SyncReportRecord = running.withLock {
        val before = _status.value
        _status.value = SyncStatus.Running(null)
        val listener = object : SyncProgressListener {
            override fun onProgress(progress: SyncProgressRecord) {
                _status.value = SyncStatus.Running(progress)
                onProgress?.invoke(progress)
            }
        }
        try {
            raw.sync(listener).also { _status.value = SyncStatus.Succeeded(it, Instant.now()) }
        } catch (e: FieldException) {
            _status.value = SyncStatus.Failed(e, Instant.now())
            throw e
        } catch (e: CancellationException) {
            // Stopped (a deadline, a cancelled worker): nothing was decided, show what was.
            _status.value = before
            throw e
        }
    }

    /** The pause before retry [attempt] (0-based): exponential with jitter, from the library. */
    fun backoffMillis(attempt: Int): Long = raw.backoffMs(attempt.toUInt()).toLong()

    internal fun retrying(error: FieldException, inMillis: Long) {
        _status.value = SyncStatus.Failed(error, Instant.now(), inMillis)
    }

    override fun close() = raw.close()
}
