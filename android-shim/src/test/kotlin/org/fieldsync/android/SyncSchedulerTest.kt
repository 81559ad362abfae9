package org.fieldsync.android

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.fieldsync.ffi.FieldException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.concurrent.atomic.AtomicInteger

class SyncSchedulerTest {

    private suspend fun eventually(what: String, condition: () -> Boolean) {
        withTimeout(5_000) {
            while (!condition()) delay(5)
        }
        check(condition()) { what }
    }

    @Test
    fun it_syncs_only_when_online_and_retries_transient_failures_with_backoff() = runBlocking {
        val online = MutableStateFlow(false)
        val calls = AtomicInteger()
        val failuresLeft = AtomicInteger(2)
        val waits = mutableListOf<Long>()
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val scheduler = SyncScheduler(
            scope = scope,
            connectivity = { online },
            sync = {
                calls.incrementAndGet()
                if (failuresLeft.getAndDecrement() > 0) throw FieldException.Offline("connection refused")
            },
            backoffMillis = { attempt -> 1L shl attempt },
            onRetry = { _, wait -> synchronized(waits) { waits.add(wait) } },
        ).start()
        try {
            scheduler.requestSync()
            delay(100)
            assertEquals(0, calls.get(), "no sync while offline")

            online.value = true
            eventually("two failures and a success") { calls.get() == 3 }
            assertEquals(listOf(1L, 2L), synchronized(waits) { waits.toList() })

            scheduler.requestSync()
            eventually("a requested sync while online") { calls.get() == 4 }
        } finally {
            scheduler.close()
            scope.cancel()
        }
    }

    @Test
    fun a_busy_server_s_retry_after_is_waited_out_even_when_the_backoff_is_shorter() = runBlocking {
        val attempts = mutableListOf<Long>()
        val waits = mutableListOf<Long>()
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val scheduler = SyncScheduler(
            scope = scope,
            connectivity = { MutableStateFlow(true) },
            sync = {
                val n = synchronized(attempts) {
                    attempts.add(System.nanoTime())
                    attempts.size
                }
                if (n == 1) throw FieldException.Busy("busy", 400uL)
            },
            backoffMillis = { 1L },
            onRetry = { _, wait -> synchronized(waits) { waits.add(wait) } },
        ).start()
        try {
            eventually("a busy answer, then a success") { synchronized(attempts) { attempts.size } == 2 }
            assertEquals(listOf(400L), synchronized(waits) { waits.toList() })
            val gapMillis = synchronized(attempts) { (attempts[1] - attempts[0]) / 1_000_000 }
            assertTrue(gapMillis >= 390, "tried again after $gapMillis ms")
            assertTrue(FieldException.Busy("busy", 1uL).isTransient)
        } finally {
            scheduler.close()
            scope.cancel()
        }
    }

    @Test
    fun a_failure_the_user_must_fix_is_not_retried() = runBlocking {
        val calls = AtomicInteger()
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val scheduler = SyncScheduler(
            scope = scope,
            connectivity = { MutableStateFlow(true) },
            sync = {
                calls.incrementAndGet()
                throw FieldException.Unauthorized("device revoked")
            },
            backoffMillis = { 1L },
        ).start()
        try {
            eventually("one attempt") { calls.get() == 1 }
            delay(100)
            assertEquals(1, calls.get())
        } finally {
            scheduler.close()
            scope.cancel()
        }
    }
}
