package org.fieldsync.android

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.ReceiptState
import org.fieldsync.ffi.defaultSyncSettings
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.net.InetAddress
import java.net.ServerSocket
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicInteger
import java.time.Duration
import java.time.Instant

/** The contract of a background sync: WorkManager's success / retry / failure, a deadline kept. */
class SyncOnceTest {

    private fun seeded(dir: Path) = TestServer.start(dir) {
        addUser("am-li", "account_manager", "Li Wei")
        importStores("330100000001,Green Leaf,Wang,13800000000,1 Wulin Road,$STORE_LAT,$STORE_LNG,B,C,2,A,120,0,0,,am-li")
    }

    @Test
    fun a_background_sync_is_success_then_retry_when_the_server_is_gone_and_failure_when_unauthorized(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        val server = seeded(serverDir)
        val device = server.enroll(server.admin().enrollCode("am-li"), "Li's phone")
        FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), device.userId, device.deviceId).use { store ->
            val hour = Instant.now().plus(Duration.ofHours(1))
            val fast = defaultSyncSettings(server.url, device.token)
                .copy(maxAttempts = 2u, initialBackoffMs = 10uL, maxBackoffMs = 20uL)
            FieldsyncSync(store, fast.copy(token = DeviceToken("not-a-token"))).use { sync ->
                val outcome = sync.syncOnce(hour)
                assertTrue(outcome is SyncOutcome.Failure, "$outcome")
                assertTrue((outcome as SyncOutcome.Failure).error is FieldException.Unauthorized)
            }
            FieldsyncSync(store, fast).use { sync ->
                assertTrue(sync.syncOnce(hour) is SyncOutcome.Success)
                server.close()
                val outcome = sync.syncOnce(hour)
                assertTrue(outcome is SyncOutcome.Retry && outcome.error is FieldException.Offline, "$outcome")
                assertEquals(SyncOutcome.Retry(null), sync.syncOnce(Instant.now().minusMillis(1)), "past the deadline")
            }
        }
    }

    @Test
    fun a_background_sync_stops_at_its_deadline_and_leaves_the_record_saved_on_the_phone(
        @TempDir phoneDir: Path,
    ) = runBlocking {
        // A server that accepts and never answers: without the deadline the sync would wait
        // for the library's request timeout and its retries.
        ServerSocket(0, 8, InetAddress.getLoopbackAddress()).use { hole ->
            val held = Thread { runCatching { repeat(8) { hole.accept() } } }.apply { isDaemon = true; start() }
            FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), "am-li", "phone-7").use { store ->
                val storeId = store.local { createStore(newStore("330100000951")) }
                val visitId = store.createVisit(routineVisit(storeId))
                FieldsyncSync(store, "http://127.0.0.1:${hole.localPort}", "token").use { sync ->
                    val started = Instant.now()
                    val outcome = sync.syncOnce(started.plusMillis(500))
                    val took = Duration.between(started, Instant.now()).toMillis()
                    assertEquals(SyncOutcome.Retry(null), outcome)
                    assertTrue(took < 5_000, "stopped at the deadline, took $took ms")
                    assertEquals(ReceiptState.SavedOnPhone, store.receipt(visitId))
                }
            }
            held.interrupt()
        }
    }

    @Test
    fun the_scheduler_survives_an_unexpected_exception_and_syncs_on_the_next_request() = runBlocking {
        val calls = AtomicInteger()
        val second = CompletableDeferred<Unit>()
        val errors = mutableListOf<Throwable>()
        coroutineScope {
            val scheduler = SyncScheduler(
                scope = this,
                connectivity = { MutableStateFlow(true) },
                sync = {
                    if (calls.incrementAndGet() == 1) error("a bug in the app's sync hook")
                    second.complete(Unit)
                },
                backoffMillis = { 10L },
                onError = { errors += it },
            ).start()
            withTimeout(10_000) {
                while (calls.get() < 1) kotlinx.coroutines.delay(10)
            }
            scheduler.requestSync()
            withTimeout(10_000) { second.await() }
            scheduler.close()
        }
        assertEquals(2, calls.get())
        assertEquals("a bug in the app's sync hook", errors.single().message)
    }
}
