package org.fieldsync.android

import com.sun.net.httpserver.HttpServer
import kotlinx.coroutines.runBlocking
import org.fieldsync.ffi.FieldException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.net.InetAddress
import java.net.InetSocketAddress
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicReference
import java.util.zip.GZIPInputStream

/**
 * The app's version goes from the convenience constructor into every sync request's device
 * report (docs/protocol.md, "The device report"), and one the server would refuse is
 * refused when the connection is made, naming its field.
 */
class AppVersionTest {

    @Test
    fun the_app_version_given_to_the_connection_is_reported_in_the_sync_request(
        @TempDir phoneDir: Path,
    ) = runBlocking {
        val seen = AtomicReference<ByteArray>()
        // A stand-in server on loopback that keeps the request and refuses it (400, not
        // retried), so the sync ends there.
        val server = HttpServer.create(InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0)
        server.createContext("/v1/sync") { exchange ->
            val raw = exchange.requestBody.readAllBytes()
            val gzipped = exchange.requestHeaders.getFirst("Content-Encoding") == "gzip"
            seen.set(if (gzipped) GZIPInputStream(raw.inputStream()).readAllBytes() else raw)
            val body = "{\"error\":\"bad_request\",\"message\":\"stand-in\"}".toByteArray()
            exchange.responseHeaders.add("Content-Type", "application/json")
            exchange.sendResponseHeaders(400, body.size.toLong())
            exchange.responseBody.use { it.write(body) }
        }
        server.start()
        try {
            FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), "am-li", "phone-1").use { store ->
                val url = "http://127.0.0.1:${server.address.port}"
                FieldsyncSync(store, url, "token", appVersion = "2.4.1 (381)").use { sync ->
                    assertThrows<FieldException> { runBlocking { sync.syncNow() } }
                }
            }
        } finally {
            server.stop(0)
        }
        val request = seen.get() ?: error("the server got no request")
        val text = String(request, Charsets.ISO_8859_1)
        assertTrue(text.contains("app_version"), "the device report names the key")
        assertTrue(text.contains("2.4.1 (381)"), "and carries the version")
    }

    @Test
    fun an_app_version_the_server_would_refuse_is_refused_naming_its_field(@TempDir phoneDir: Path) = runBlocking {
        FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), "am-li", "phone-1").use { store ->
            val error = assertThrows<FieldException.InvalidInput> {
                FieldsyncSync(store, "http://127.0.0.1:9", "token", appVersion = "x".repeat(65))
            }
            assertEquals("device.app_version", error.field)
        }
    }
}
