package org.fieldsync.android

import com.sun.net.httpserver.HttpServer
import kotlinx.coroutines.runBlocking
import org.fieldsync.ffi.FieldException
import org.fieldsync.ffi.defaultSyncSettings
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.net.InetAddress
import java.net.InetSocketAddress
import java.nio.file.Path

/**
 * An app older than its server: a stand-in server on loopback refuses the app's protocol as
 * docs/protocol.md says, and the app gets a typed exception it can turn into "update the app".
 */
class OldAppTest {

    @Test
    fun a_server_on_a_newer_protocol_throws_update_required_which_is_not_retried(
        @TempDir phoneDir: Path,
    ) = runBlocking {
        val server = HttpServer.create(InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0)
        server.createContext("/v1/sync") { exchange ->
            exchange.requestBody.readAllBytes()
            val body = ("{\"error\":\"unsupported_protocol\"," +
                "\"message\":\"protocol `1` is not spoken here; this server speaks `2`\"}").toByteArray()
            exchange.responseHeaders.add("Content-Type", "application/json")
            exchange.responseHeaders.add("Fieldsync-Protocol", "2")
            exchange.sendResponseHeaders(400, body.size.toLong())
            exchange.responseBody.use { it.write(body) }
        }
        server.start()
        try {
            FieldsyncStore.open(phoneDir.resolve("phone.db").toString(), "am-li", "phone-1").use { store ->
                val url = "http://127.0.0.1:${server.address.port}"
                FieldsyncSync(store, defaultSyncSettings(url, "token")).use { sync ->
                    val error = assertThrows<FieldException.UpdateRequired> { runBlocking { sync.syncNow() } }
                    assertFalse(error.isTransient)
                    assertTrue(error.readable.startsWith("Update the app: "), error.readable)
                }
            }
        } finally {
            server.stop(0)
        }
    }
}
