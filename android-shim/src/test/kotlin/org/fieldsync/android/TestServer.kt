package org.fieldsync.android

import java.io.File
import java.net.HttpURLConnection
import java.net.URI
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread

/** An enrolled device: what `POST /v1/enroll` answers. */
data class Enrollment(val deviceId: String, val token: String, val userId: String, val role: String)

/**
 * A real `fieldsync-server` (built from this checkout by scripts/test) on 127.0.0.1 with a
 * port the OS picks, seeded with the admin CLI, in a temp data folder.
 */
class TestServer private constructor(private val process: Process, val url: String, private val dataDir: Path) :
    AutoCloseable {

    companion object {
        val binary: String = System.getProperty("fieldsync.server")
            ?: error("system property fieldsync.server is not set (run through Maven: scripts/test)")

        /** The header `fieldsync-server admin import-stores --help` documents. */
        const val CSV_HEADER = "licence,name,owner,phone,address,lat,lng,format,market,size,tier," +
            "monthly_volume,demo_street,functional_terminal,rating,territory"

        fun start(dataDir: Path, seed: TestServer.Admin.() -> Unit): TestServer {
            Admin(dataDir).seed()
            val log = dataDir.resolve("server.log").toFile()
            val process = ProcessBuilder(binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir.toString())
                .redirectError(log)
                .start()
            val lines = LinkedBlockingQueue<String>()
            // Drain stdout for the server's lifetime, so it never blocks on a full pipe.
            thread(isDaemon = true, name = "fieldsync-server-stdout") {
                process.inputStream.bufferedReader().forEachLine { lines.put(it) }
            }
            while (true) {
                val line = lines.poll(30, TimeUnit.SECONDS)
                    ?: run {
                        process.destroyForcibly()
                        error("fieldsync-server did not start: ${log.readText()}")
                    }
                val at = line.indexOf("listening on ")
                if (at >= 0) return TestServer(process, line.substring(at + "listening on ".length).trim(), dataDir)
            }
        }
    }

    /** The admin CLI on the server's data folder. */
    class Admin(private val dataDir: Path) {
        fun run(vararg args: String): String {
            val process = ProcessBuilder(listOf(binary, "admin", "--data-dir", dataDir.toString()) + args)
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start()
            val out = process.inputStream.bufferedReader().readText()
            check(process.waitFor(60, TimeUnit.SECONDS) && process.exitValue() == 0) {
                "admin ${args.joinToString(" ")} failed: $out"
            }
            return out
        }

        fun addUser(id: String, role: String, name: String) = run("add-user", id, role, name)

        fun importStores(vararg rows: String) {
            val csv = File(dataDir.toFile(), "stores.csv")
            csv.writeText((listOf(CSV_HEADER) + rows).joinToString("\n", postfix = "\n"))
            run("import-stores", csv.path)
        }

        fun enrollCode(user: String): String = run("enroll-code", user).trim().lines().last().trim()
    }

    fun admin() = Admin(dataDir)

    /** Enrolls a device with a one-time code, as a phone does. */
    fun enroll(code: String, deviceName: String): Enrollment {
        val connection = URI("$url/v1/enroll").toURL().openConnection() as HttpURLConnection
        connection.requestMethod = "POST"
        connection.doOutput = true
        connection.setRequestProperty("Content-Type", "application/json")
        connection.outputStream.use {
            it.write("""{"code":"$code","device_name":"$deviceName"}""".toByteArray())
        }
        val status = connection.responseCode
        val body = (if (status < 400) connection.inputStream else connection.errorStream).bufferedReader().readText()
        check(status == 200) { "enroll answered $status: $body" }
        fun field(name: String) = Regex(""""$name"\s*:\s*"([^"]*)"""").find(body)?.groupValues?.get(1)
            ?: error("no `$name` in $body")
        return Enrollment(field("device_id"), field("token"), field("user_id"), field("role"))
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
    }
}

fun tempDir(prefix: String): Path = Files.createTempDirectory(prefix)
