package org.fieldsync.android

import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.fieldsync.ffi.PhotoTargetKind
import org.fieldsync.ffi.PhotoTargetRecord
import org.fieldsync.ffi.ReceiptState
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.awt.image.BufferedImage
import java.io.File
import java.nio.file.Path
import javax.imageio.ImageIO
import kotlin.random.Random

/**
 * A photo through Kotlin: added offline to a visit, synced with a real fieldsync-server on
 * loopback, its progress followed, and its receipt reaching "on the server".
 */
class PhotoSyncTest {

    /** A 1200 x 900 JPEG with noise in it, as a camera's does not compress to nothing. */
    private fun cameraPhoto(dir: Path): File {
        val random = Random(7)
        val image = BufferedImage(1200, 900, BufferedImage.TYPE_INT_RGB)
        for (y in 0 until 900) for (x in 0 until 1200) {
            image.setRGB(x, y, ((x * 255 / 1200) shl 16) or ((y * 255 / 900) shl 8) or random.nextInt(64))
        }
        return dir.resolve("camera.jpg").toFile().also { ImageIO.write(image, "jpg", it) }
    }

    @Test
    fun a_photo_added_offline_uploads_after_its_visit_with_progress_and_its_receipt_reaches_on_the_server(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir) {
            addUser("am-li", "account_manager", "Li Wei")
            importStores(
                "330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,1,1,good,am-li",
            )
        }.use { server ->
            val device = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
            FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), device.userId, device.deviceId).use { store ->
                FieldsyncSync(store, server.url, device.token).use { sync ->
                    sync.syncNow()
                    val greenLeaf = store.stores().single()

                    // Offline: a visit with a photo.
                    val visitId = store.createVisit(routineVisit(greenLeaf.id))
                    val camera = cameraPhoto(phoneDir)
                    val added = store.addPhoto(
                        PhotoTargetRecord(PhotoTargetKind.VISIT, visitId, null),
                        camera,
                        caption = "counter",
                    )
                    assertTrue(added.hash.startsWith("sha256:"))
                    assertEquals(ReceiptState.SavedOnPhone, store.receipt(visitId))
                    assertEquals(listOf(added.hash), store.visit(visitId).photos.map { it.hash })

                    // Documents first: the visit is on the server, its photo not yet.
                    sync.syncNow()
                    assertEquals(ReceiptState.UploadingPhotos(0uL, 1uL), store.receipt(visitId))

                    // Then the photos, with their progress.
                    val progress = withTimeout(30_000) { sync.photoUploads().toList() }
                    assertTrue(progress.isNotEmpty())
                    val thumbnailFirst = progress.indexOfFirst { it.thumbnailsDone == 1uL }
                    val photoDone = progress.indexOfFirst { it.photosDone == 1uL }
                    assertTrue(thumbnailFirst in 0 until photoDone, "$progress")
                    assertEquals(1uL, progress.last().photosTotal)
                    assertEquals(ReceiptState.OnServer, store.receipt(visitId))

                    // The phone's own photo and thumbnail are local files.
                    assertArrayEquals(camera.readBytes(), sync.photo(visitId, added.hash).readBytes())
                    val thumb = sync.thumbnail(visitId, added.hash)
                    assertTrue(thumb.length() in 1..60_000, "thumbnail of ${thumb.length()} bytes")
                }
            }
        }
    }
}
