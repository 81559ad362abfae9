package org.fieldsync.android

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.emitAll
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.mapNotNull
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.withContext
import java.time.LocalDate
import org.fieldsync.ffi.CheckPointRecord
import org.fieldsync.ffi.DamagedRecord
import org.fieldsync.ffi.DisplayCheckRecord
import org.fieldsync.ffi.DisplayStandard
import org.fieldsync.ffi.DocumentsChanged
import org.fieldsync.ffi.DocumentsListener
import org.fieldsync.ffi.EnrollmentRecord
import org.fieldsync.ffi.FollowUpRecord
import org.fieldsync.ffi.HistoryEntryRecord
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.FieldStore
import org.fieldsync.ffi.InventoryCountRecord
import org.fieldsync.ffi.LiveList
import org.fieldsync.ffi.NewCountLineRecord
import org.fieldsync.ffi.NewVisitRecord
import org.fieldsync.ffi.ReceiptState
import org.fieldsync.ffi.ShelfDisplayRecord
import org.fieldsync.ffi.SkuCount
import org.fieldsync.ffi.StoreClassificationRecord
import org.fieldsync.ffi.StoreDueRecord
import org.fieldsync.ffi.StoreRecord
import org.fieldsync.ffi.SupervisionMonthRecord
import org.fieldsync.ffi.Verdict
import org.fieldsync.ffi.VisitRecord
import org.fieldsync.ffi.WeekMissedRecord

/**
 * The device's local store, for coroutines: every call runs on [io] (Dispatchers.IO by
 * default), never on the caller's thread, and [documentChanges] is a Flow of what changed.
 *
 * The common operations have suspend functions here, and complaints, tasks and scorecards
 * have theirs in `Complaints.kt`, `Tasks.kt`, `Scorecards.kt`; every other operation of the
 * generated [FieldStore] is one [local] call away: `store.local { storesMissingPriceTags(me) }`.
 * Errors are [FieldException]s: `message` (and `toString()`) is a sentence to log or show
 * support (``The value given for `count` was refused: must not be negative.``), and each
 * subclass keeps its parts as properties (`InvalidInput.field` and `.reason`, ...). Instants
 * are `java.time.Instant` (milliseconds kept), days `LocalDate`, months `YearMonth`.
 *
 * Close it when done (`use {}`): the database file accepts one opening at a time.
 */
class FieldsyncStore private constructor(
    /**
     * The generated binding. Not public: its calls block (SQLite, fsync), and an app
     * reaches what this class does not wrap through [local], off the caller's thread.
     */
    internal val raw: FieldStore,
    private val io: CoroutineDispatcher,
) : AutoCloseable {

    companion object {
        /**
         * Opens (creating if needed) the store at [path] for the enrolled user and device.
         * [calendar] is the district's public holidays and make-up working days (调休) in the
         * text form of `docs/calendars/china-2026.txt` (R9 counts "3 working days" by it);
         * null counts Monday to Friday. A calendar with a mistake throws
         * `FieldException.InvalidInput` for `calendar`, naming the line.
         */
        suspend fun open(
            path: String,
            userId: String,
            deviceId: String,
            calendar: String? = null,
            io: CoroutineDispatcher = Dispatchers.IO,
        ): FieldsyncStore = withContext(io) {
            val raw = when (calendar) {
                null -> FieldStore.open(path, userId, deviceId)
                else -> FieldStore.openWithCalendar(path, userId, deviceId, calendar)
            }
            FieldsyncStore(raw, io)
        }

        /**
         * Opens the store at [path] as the user and device of [enrollment] (from
         * [FieldsyncEnrollment.enroll]) and records them: from then on the store refuses to
         * open as anyone else (`FieldException.InvalidInput` for `identity.user_id`).
         */
        suspend fun openEnrolled(
            path: String,
            enrollment: EnrollmentRecord,
            calendar: String? = null,
            io: CoroutineDispatcher = Dispatchers.IO,
        ): FieldsyncStore = withContext(io) {
            FieldsyncStore(FieldStore.openEnrolled(path, enrollment, calendar), io)
        }
    }

    /** The user every edit is stamped with. */
    val userId: String get() = raw.userId()

    /** Runs [block] on the generated store, off the caller's thread. */
    suspend fun <T> local(block: FieldStore.() -> T): T = withContext(io) { raw.block() }

    suspend fun stores(): List<StoreRecord> = local { stores() }
    suspend fun store(id: String): StoreRecord = local { store(id) }
    suspend fun updateStoreClassification(id: String, change: StoreClassificationRecord) =
        local { updateStoreClassification(id, change) }
    suspend fun reassignStore(id: String, territory: String) = local { reassignStore(id, territory) }

    suspend fun createVisit(visit: NewVisitRecord): String = local { createVisit(visit) }
    suspend fun visit(id: String): VisitRecord = local { visit(id) }
    suspend fun checkOutVisit(id: String, checkOut: CheckPointRecord) = local { checkOutVisit(id, checkOut) }
    suspend fun appendVisitNotes(id: String, text: String) = local { appendVisitNotes(id, text) }
    suspend fun addVisitPhoto(id: String, hash: String, caption: String) = local { addVisitPhoto(id, hash, caption) }
    suspend fun linkVisit(id: String, shelfDisplayId: String?, inventoryCountId: String?) =
        local { linkVisit(id, shelfDisplayId, inventoryCountId) }

    suspend fun shelfDisplayOf(storeId: String): ShelfDisplayRecord = local { shelfDisplay(shelfDisplayId(storeId)) }
    suspend fun shelfDisplay(id: String): ShelfDisplayRecord = local { shelfDisplay(id) }
    suspend fun recordDisplayCheck(id: String, check: DisplayCheckRecord) = local { recordDisplayCheck(id, check) }
    suspend fun markDisplayStandard(id: String, standard: DisplayStandard, verdict: Verdict, note: String = "") =
        local { markDisplayStandard(id, standard, verdict, note) }

    suspend fun createInventoryCount(storeId: String, lines: List<NewCountLineRecord>): String =
        local { createInventoryCount(storeId, lines) }
    /** A count taken whole (from paper or a scanner), in one change; [finish] closes it too. */
    suspend fun recordInventoryCount(
        storeId: String,
        lines: List<NewCountLineRecord>,
        counted: List<SkuCount>,
        finish: Boolean,
    ): String = local { recordInventoryCount(storeId, lines, counted, finish) }
    suspend fun setCounted(id: String, sku: String, counted: Long) = local { setCounted(id, sku, counted) }
    suspend fun finishCount(id: String) = local { finishCount(id) }
    suspend fun inventoryCount(id: String): InventoryCountRecord = local { inventoryCount(id) }

    /** R1 for [manager] (this user by default) in the week of [day] (null: today). */
    suspend fun storesDueVisit(manager: String = userId, day: LocalDate? = null): List<StoreDueRecord> =
        local { storesDueVisit(manager, day) }

    /** R7 for [manager]: the follow-up each rated functional terminal needs this period. */
    suspend fun terminalFollowUps(manager: String = userId, day: LocalDate? = null): List<FollowUpRecord> =
        local { terminalFollowUps(manager, day) }

    /**
     * R5: demo-street stores the market team has not walked in the week of [day] (null:
     * today); [territory] narrows them to one account manager's, null (the default) lists
     * every demo-street store this phone holds: the market team's list of the week.
     */
    suspend fun demoStreetUnwalked(territory: String? = null, day: LocalDate? = null): List<StoreDueRecord> =
        local { demoStreetUnwalked(territory, day) }

    /**
     * The role of this store's user, kept as [openEnrolled] keeps it: another role's kind of
     * visit is then refused when made. For a phone enrolled before the store kept roles.
     */
    suspend fun recordRole(role: String) = local { recordRole(role) }

    /** R1 over the month of [day]: each ended week of it, with the stores [manager] owed and did not visit. */
    suspend fun weeksMissed(manager: String = userId, day: LocalDate? = null): List<WeekMissedRecord> =
        local { weeksMissed(manager, day) }

    /** R5's walk over the month of [day]: each ended week, with [territory]'s demo-street stores not walked. */
    suspend fun walksMissed(territory: String, day: LocalDate? = null): List<WeekMissedRecord> =
        local { walksMissed(territory, day) }

    /** R4 and R5: the supervision team's spot checks in [manager]'s stores in the month of [day]. */
    suspend fun supervisionMonth(manager: String = userId, day: LocalDate? = null): SupervisionMonthRecord =
        local { supervisionMonth(manager, day) }

    /** Who changed a document, what, and when, oldest first. */
    suspend fun history(id: String): List<HistoryEntryRecord> = local { documentHistory(id) }

    suspend fun receipt(id: String): ReceiptState = local { receipt(id) }

    /**
     * Records this phone received and cannot read (an older server accepted them): kept
     * aside while the sync and every other record go on, cleared when changes repair them.
     * Reading one through its kind's call throws `FieldException.Damaged` (`id`, `reason`).
     */
    suspend fun damagedDocuments(): List<DamagedRecord> = local { damagedDocuments() }

    /**
     * The damaged records the rule answers for [manager] leave out: show them beside every
     * rule answer (`storesDueVisit`, `terminalFollowUps`, ...), as ADR 0007 decides.
     */
    suspend fun rulesCannotJudge(manager: String = userId): List<DamagedRecord> =
        local { rulesCannotJudge(manager) }

    /**
     * The damaged records now and after every change: a sync that finds one (or repairs
     * one) emits the new list. For a banner like "2 records could not be read".
     */
    val damaged: Flow<List<DamagedRecord>> = changesOf(LiveList.DAMAGED_DOCUMENTS)
        .map { local { damagedDocuments() } }
        .distinctUntilChanged()

    /**
     * Every change to documents: after each write through this store (with the ids) and after
     * each sync that moved documents (no ids: refresh what is on screen). Collect it from a
     * ViewModel; cancelling the collection unsubscribes. Changes that come while the
     * collector is busy are merged into one event (their ids together; no ids if one of
     * them had none), never dropped.
     */
    val documentChanges: Flow<DocumentsChanged> = flow {
        val pending = CoalescedChanges()
        val signals = callbackFlow {
            val subscription = raw.subscribe(object : DocumentsListener {
                override fun onDocumentsChanged(change: DocumentsChanged) {
                    pending.add(change)
                    trySend(Unit)
                }
            })
            awaitClose { subscription.close() }
        }.buffer(Channel.CONFLATED)
        emitAll(signals.mapNotNull { pending.take() })
    }

    /**
     * A document's receipt now and after every change: "saved on phone", "uploading" (a
     * sync is sending it), "on the server", "rejected". The watch is registered before the
     * first value is read, so no change between the two is missed; a state that lasts less
     * than one read may be skipped.
     */
    fun receipts(id: String): Flow<ReceiptState> = changesOf(LiveList.RECEIPTS)
        .map { local { receipt(id) } }
        .distinctUntilChanged()

    override fun close() = raw.close()
}

/**
 * The sentence of a fieldsync error (``The value given for `count` was refused: must not be
 * negative.``), the same as its `message`.
 */
val FieldException.readable: String get() = toString()

/** Changes heard and not yet taken, merged: the ids together, "everything" if one had none. */
internal class CoalescedChanges {
    private val ids = LinkedHashSet<String>()
    private var any = false
    private var everything = false
    private var fromSync = false

    @Synchronized
    fun add(change: DocumentsChanged) {
        any = true
        if (change.ids.isEmpty()) everything = true else ids.addAll(change.ids)
        fromSync = fromSync || change.fromSync
    }

    /** What was heard since the last take, or null when nothing was. */
    @Synchronized
    fun take(): DocumentsChanged? {
        if (!any) return null
        val taken = DocumentsChanged(if (everything) emptyList() else ids.toList(), fromSync)
        ids.clear()
        any = false
        everything = false
        fromSync = false
        return taken
    }
}
