package org.fieldsync.android

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.launch
import org.fieldsync.ffi.AddedPhotoRecord
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.GpsFixRecord
import org.fieldsync.ffi.PhotoMetaRecord
import org.fieldsync.ffi.PhotoProgressListener
import java.time.Instant
import org.fieldsync.ffi.PhotoReportRecord
import org.fieldsync.ffi.PhotoSettingsRecord
import org.fieldsync.ffi.PhotoTargetRecord
import org.fieldsync.ffi.PhotoUploadProgressRecord
import org.fieldsync.ffi.defaultPhotoSettings
import java.io.File

// Photos: evidence stored on the phone with its document, uploaded after the documents
// (thumbnails first; full photos wait on a metered link), fetched on demand as files.
// Errors are FieldExceptions: InvalidInput (field `photo`: not a JPEG/PNG, too large),
// Offline (try later), Rejected (the server refused: another territory's photo, a limit).

/**
 * Stores the photo the camera wrote to [file] (copied in chunks) and its thumbnail, and
 * references them from [target] in the same step; the same photo added twice is stored
 * once. Returns the photo's and the thumbnail's content hashes.
 */
suspend fun FieldsyncStore.addPhoto(
    target: PhotoTargetRecord,
    file: File,
    caption: String = "",
    takenAt: Instant? = null,
    gps: GpsFixRecord? = null,
): AddedPhotoRecord = local { addPhotoFile(target, file.path, PhotoMetaRecord(caption, takenAt, gps)) }

/** [addPhoto] for a photo in memory. */
suspend fun FieldsyncStore.addPhoto(
    target: PhotoTargetRecord,
    bytes: ByteArray,
    caption: String = "",
    takenAt: Instant? = null,
    gps: GpsFixRecord? = null,
): AddedPhotoRecord = local { addPhotoBytes(target, bytes, PhotoMetaRecord(caption, takenAt, gps)) }

/**
 * Uploads the phone's photos whose documents the server holds (run [FieldsyncSync.syncNow]
 * first): thumbnails, then full photos unless [settings] says metered. [onProgress] hears
 * each step, on the library's thread.
 */
suspend fun FieldsyncSync.uploadPhotos(
    settings: PhotoSettingsRecord = defaultPhotoSettings(),
    onProgress: ((PhotoUploadProgressRecord) -> Unit)? = null,
): PhotoReportRecord {
    val listener = object : PhotoProgressListener {
        override fun onProgress(progress: PhotoUploadProgressRecord) {
            onProgress?.invoke(progress)
        }
    }
    return raw.uploadPhotos(settings, listener)
}

/**
 * A Flow of the progress of one upload pass ("uploading 2 of 5 photos"): it runs the pass
 * when collected and completes when the pass is done, or fails with its FieldException.
 */
fun FieldsyncSync.photoUploads(settings: PhotoSettingsRecord = defaultPhotoSettings()): Flow<PhotoUploadProgressRecord> =
    callbackFlow {
        val pass = launch {
            try {
                uploadPhotos(settings) { trySend(it) }
                close()
            } catch (e: FieldException) {
                close(e)
            }
        }
        awaitClose { pass.cancel() }
    }.buffer(kotlinx.coroutines.channels.Channel.UNLIMITED)

/** The photo [hash] of document [docId] as a local file, fetched from the server if needed. */
suspend fun FieldsyncSync.photo(docId: String, hash: String, settings: PhotoSettingsRecord = defaultPhotoSettings()): File =
    File(raw.photo(docId, hash, settings))

/** The thumbnail of photo [hash] of document [docId] as a local file, fetched if needed. */
suspend fun FieldsyncSync.thumbnail(docId: String, hash: String, settings: PhotoSettingsRecord = defaultPhotoSettings()): File =
    File(raw.thumbnail(docId, hash, settings))
