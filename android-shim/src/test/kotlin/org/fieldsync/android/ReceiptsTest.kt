package org.fieldsync.android

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.flow.takeWhile
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.fieldsync.ffi.ReceiptState
import org.fieldsync.ffi.defaultSyncSettings
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.nio.file.Path
import kotlin.concurrent.thread
import java.time.Duration
import java.time.Instant

/** Receipts that tell the truth: every state reachable, and still true after a restart. */
class ReceiptsTest {

    /** Accepts connections on loopback and never answers: a push stays in flight. */
    private class BlackHole : AutoCloseable {
        private val socket = ServerSocket(0, 8, InetAddress.getLoopbackAddress())
        private val held = mutableListOf<Socket>()
        val url = "http://127.0.0.1:${socket.localPort}"

        init {
            thread(isDaemon = true, name = "black-hole") {
                // Bounded: a test makes a few connections at most.
                repeat(16) { runCatching { synchronized(held) { held += socket.accept() } } }
            }
        }

        override fun close() {
            socket.close()
            synchronized(held) { held.forEach { it.close() } }
        }
    }

    private fun seeded(dir: Path) = TestServer.start(dir) {
        addUser("am-li", "account_manager", "Li Wei")
        importStores("330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,0,0,,am-li")
    }

    /** The first sync of a new phone: checks it starts as never synced; returns the store's id. */
    private suspend fun firstSync(store: FieldsyncStore, server: TestServer, device: Enrollment): String {
        FieldsyncSync(store, server.url, device.token).use { sync ->
            assertTrue(sync.status.value is SyncStatus.Idle, "never synced: ${sync.status.value}")
            sync.syncNow()
        }
        return store.stores().single().id
    }

    @Test
    fun a_receipt_goes_saved_on_phone_then_uploading_then_on_server(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        seeded(serverDir).use { server ->
            val device = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
            FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), device.userId, device.deviceId).use { store ->
                val storeId = firstSync(store, server, device)
                val visitId = store.createVisit(routineVisit(storeId))
                val watching = CompletableDeferred<Unit>()
                val states = async {
                    store.receipts(visitId)
                        .onEach { watching.complete(Unit) }
                        .takeWhile { it != ReceiptState.OnServer }
                        .toList()
                }
                withTimeout(10_000) { watching.await() }
                BlackHole().use { hole ->
                    FieldsyncSync(store, hole.url, device.token).use { stalled ->
                        val push = launch { runCatching { stalled.syncNow() } }
                        withTimeout(10_000) { store.receipts(visitId).first { it == ReceiptState.Uploading } }
                        push.cancel()
                        push.join()
                    }
                }
                // A cancelled push leaves the record saved on the phone, not "uploading".
                withTimeout(10_000) { store.receipts(visitId).first { it == ReceiptState.SavedOnPhone } }
                FieldsyncSync(store, server.url, device.token).use { it.syncNow() }
                val seen = withTimeout(10_000) { states.await() }
                assertEquals(
                    listOf(ReceiptState.SavedOnPhone, ReceiptState.Uploading, ReceiptState.SavedOnPhone),
                    seen.take(3),
                )
                // The real push may be seen in flight too before it lands.
                assertTrue(seen.drop(3).all { it == ReceiptState.Uploading }, "$seen")
                assertEquals(ReceiptState.OnServer, store.receipt(visitId))
            }
        }
    }

    @Test
    fun the_last_sync_and_the_receipts_are_still_true_after_the_app_restarts(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        seeded(serverDir).use { server ->
            val device = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
            val path = phoneDir.resolve("phone.db").toString()
            val (synced, pending) = FieldsyncStore.open(path, device.userId, device.deviceId).use { store ->
                val storeId = firstSync(store, server, device)
                val synced = store.createVisit(routineVisit(storeId))
                FieldsyncSync(store, server.url, device.token).use { it.syncNow() }
                synced to store.createVisit(routineVisit(storeId))
            }
            FieldsyncStore.open(path, device.userId, device.deviceId).use { store ->
                assertEquals(ReceiptState.OnServer, store.receipt(synced))
                assertEquals(ReceiptState.SavedOnPhone, store.receipt(pending))
                FieldsyncSync(store, defaultSyncSettings(server.url, device.token)).use { sync ->
                    val status = sync.status.value
                    assertTrue(status is SyncStatus.SyncedBefore, "$status")
                    val at = (status as SyncStatus.SyncedBefore).at
                    assertTrue(Duration.between(at, Instant.now()) < Duration.ofMinutes(10), "synced minutes ago: $at")
                }
            }
        }
    }
}
