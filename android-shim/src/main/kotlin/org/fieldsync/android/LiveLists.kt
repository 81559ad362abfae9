package org.fieldsync.android

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.map
import org.fieldsync.ffi.ChangesListener
import org.fieldsync.ffi.ConflictedRecord
import org.fieldsync.ffi.LiveList
import org.fieldsync.ffi.StoreListQuery
import org.fieldsync.ffi.StoreListRecord
import org.fieldsync.ffi.StorePage
import org.fieldsync.ffi.VisitListRecord
import java.time.LocalDate

/*
 * Live lists for an app's screens. Each reads the library's index tables only (no record is
 * loaded) and re-emits when what it shows changed: after a write through this store, after
 * a sync that brought or confirmed records, when a receipt turns to uploading. It reads
 * again only when a topic it reads changed, and emits only when the answer differs.
 *
 * Nothing can be lost between the library and the Flow: the library tells "changed, now at
 * version N" into a conflated channel, which keeps the latest news however many changes
 * come while the collector is busy; the read that follows sees all of them.
 */

/**
 * Emits once at once, then after every committed change to what [list] reads (however many
 * changes, at least one emission after the last of them). The watch is registered before
 * the first emission, so no change between the two is missed.
 */
fun FieldsyncStore.changesOf(list: LiveList): Flow<Unit> = callbackFlow {
    val watch = raw.watch(raw.topicsOf(list), object : ChangesListener {
        override fun onChanged(version: Long) {
            trySend(Unit)
        }
    })
    send(Unit)
    awaitClose { watch.close() }
}.buffer(Channel.CONFLATED)

/**
 * The account manager's stores with what is due (R1, R5, R7), last visit, missing tags,
 * open tasks and upload state: one page of [query], now and whenever it changes.
 */
fun FieldsyncStore.storeList(query: StoreListQuery = StoreListQuery()): Flow<StorePage> =
    changesOf(LiveList.STORE_LIST)
        .map { local { storeList(query) } }
        .distinctUntilChanged()

/** The rows of [storeList] alone, for a screen that shows one page. */
fun FieldsyncStore.storeRows(query: StoreListQuery = StoreListQuery()): Flow<List<StoreListRecord>> =
    storeList(query).map { it.rows }.distinctUntilChanged()

/** The visits [visitor] (this user by default) checked in to on [day] (null: today). */
fun FieldsyncStore.visitsOfDay(visitor: String? = null, day: LocalDate? = null): Flow<List<VisitListRecord>> =
    changesOf(LiveList.VISITS_OF_DAY)
        .map { local { visitsOfDay(visitor, day) } }
        .distinctUntilChanged()

/**
 * Records with fields two people set at once, now and whenever that changes: show them so
 * someone looks at both values (the record's `*Versions`) and sets the field again.
 */
fun FieldsyncStore.documentsInConflict(): Flow<List<ConflictedRecord>> =
    changesOf(LiveList.DOCUMENTS_IN_CONFLICT)
        .map { local { documentsInConflict() } }
        .distinctUntilChanged()

/**
 * A long list a page at a time, for a pager (AndroidX Paging's `PagingSource`: [load] in
 * `load()`, and `invalidate()` on each [invalidations] emission; `docs/android.md` shows the
 * adapter). [query]'s own `offset` and `limit` are replaced by each load's.
 */
class StorePageSource(private val store: FieldsyncStore, private val query: StoreListQuery) {
    /** [limit] stores from [offset]; `total` says how many the whole list holds. */
    suspend fun load(offset: Int, limit: Int): StorePage =
        store.local { storeList(query.copy(offset = offset, limit = limit)) }

    /** Emits after each change to what the list reads (not at once): reload then. */
    val invalidations: Flow<Long> = callbackFlow {
        val watch = store.raw.watch(store.raw.topicsOf(LiveList.STORE_LIST), object : ChangesListener {
            override fun onChanged(version: Long) {
                trySend(version)
            }
        })
        awaitClose { watch.close() }
    }.buffer(Channel.CONFLATED)
}
