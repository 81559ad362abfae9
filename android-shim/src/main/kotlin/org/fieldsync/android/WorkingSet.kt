package org.fieldsync.android

import org.fieldsync.ffi.FetchedRecord
import java.time.Instant

/**
 * Documents of this device's scope by id (1 to 100), fetched whole in one round trip and
 * stored: for a phone that holds a working set (`SyncSettings.workingWeeks`), the visits and
 * counts older than it. Ids that are not the device's come back in `missing`. Documents from
 * outside the working set stay on the phone for `SyncSettings.keepFetchedMs` after their
 * fetch (docs/protocol.md, "Fetching on demand").
 */
suspend fun FieldsyncSync.fetchDocuments(ids: List<String>): FetchedRecord =
    raw.fetchDocuments(ids)

/**
 * The visits and counts of store [storeId] that happened from [from] (inclusive) to [before]
 * (exclusive), either open, as many as one response holds; pass the answer's `next` as
 * [after] to go on.
 */
suspend fun FieldsyncSync.fetchStoreHistory(
    storeId: String,
    from: Instant? = null,
    before: Instant? = null,
    after: String? = null,
): FetchedRecord = raw.fetchStoreHistory(storeId, from?.toEpochMilli(), before?.toEpochMilli(), after)
