#!/usr/bin/env python3
"""The supervision console in a real browser: Debian's headless Chromium driven through
chromedriver's WebDriver protocol (plain HTTP, no client library), against
`fieldsync-server serve --demo` on 127.0.0.1.

It signs the demo supervisor in with the code the demo prints, checks the overview shows
the demo district (four account managers, the two seeded scorecards), that a chart has
drawn (a screenshot kept as target/console-chart.png, checked not blank), that the
violations chart has drawn and agrees with the overview's columns for this month
(target/console-violations.png), that the photographed store shows a thumbnail
(target/console-photo.png) served only to the session and only through its own store, that
a store page shows its history, that an account manager cannot get a console code, and
signs out.

Usage: console-browser.py SERVER_BINARY [ARTIFACT_DIR]
"""

import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

PATIENCE_S = 600  # the debug build seeds the demo district slowly


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(message):
    print(f"console-browser: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


class WebDriver:
    """The few WebDriver commands the test needs."""

    def __init__(self, url):
        self.url = url
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": "/usr/bin/chromium",
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--window-size=1300,1100",
                            "--lang=zh-CN",
                        ],
                    },
                }
            }
        }
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as e:
            fail(f"webdriver {method} {path}: {e.code} {e.read()[:500]!r}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def current_url(self):
        return self.s("GET", "/url")

    def wait_url(self, suffix, seconds=15):
        """The current URL once it ends with `suffix` (a click's navigation may still be under
        way when the click returns), or the last one seen after `seconds`."""
        deadline = time.monotonic() + seconds
        url = self.current_url()
        while not url.endswith(suffix) and time.monotonic() < deadline:
            time.sleep(0.1)
            url = self.current_url()
        return url

    def source(self):
        return self.s("GET", "/source")

    def find(self, css):
        found = self.s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(found.values()))

    def find_all(self, css):
        found = self.s("POST", "/elements", {"using": "css selector", "value": css})
        return [next(iter(f.values())) for f in found]

    def type(self, element, text):
        self.s("POST", f"/element/{element}/value", {"text": text})

    def click(self, element):
        self.s("POST", f"/element/{element}/click", {})

    def text(self, element):
        return self.s("GET", f"/element/{element}/text")

    def attribute(self, element, name):
        return self.s("GET", f"/element/{element}/attribute/{name}")

    def screenshot(self, element=None):
        path = f"/element/{element}/screenshot" if element else "/screenshot"
        return base64.b64decode(self.s("GET", path))

    def drawn_screenshot(self, element, what, attempts=5):
        """An element's screenshot once it shows drawing. Chromium can hand back a transparent
        image of an element below the fold that it has not painted yet (seen once in CI on the
        violations chart): the element is scrolled into view and two frames are waited for
        before each of a bounded number of attempts; the last one is judged by `non_blank`."""
        shot = b""
        for attempt in range(attempts):
            self.s("POST", "/execute/async", {
                "script": "const [el, done] = arguments;"
                          "el.scrollIntoView({block: 'center'});"
                          "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                "args": [{"element-6066-11e4-a52e-4f735466cecf": element}],
            })
            shot = self.screenshot(element)
            if blank_reason(shot) is None:
                return shot
            time.sleep(0.5 * (attempt + 1))
        non_blank(shot, what)
        return shot

    def quit(self):
        try:
            self.call("DELETE", f"/session/{self.session}")
        except SystemExit:
            pass


def png_pixels(png):
    """The decompressed scanlines of a PNG (filter bytes included): enough to tell a blank
    image from a drawn one."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        fail("the screenshot is not a PNG")
    pos, idat = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return zlib.decompress(idat)


def blank_reason(png):
    """Why the PNG looks blank (too few distinct byte values or too little ink), or None."""
    pixels = png_pixels(png)
    distinct = len(set(pixels))
    not_white = sum(1 for b in pixels if b < 200)
    if distinct < 16 or not_white < 2000:
        return f"{distinct} byte values, {not_white} dark"
    return None


def non_blank(png, what):
    """Fails unless the PNG has drawing in it; returns its count of distinct byte values."""
    reason = blank_reason(png)
    if reason is not None:
        fail(f"the {what}'s screenshot looks blank ({reason})")
    return len(set(png_pixels(png)))


def column_sum(driver, table, column):
    """The sum of the integers in a column (1-based) of a table's body."""
    cells = driver.find_all(f"{table} tbody tr td:nth-child({column})")
    return sum(int(re.sub(r"[^0-9]", "", driver.text(c)) or 0) for c in cells)


def check_violations_chart(driver, artifacts):
    """The violations chart has drawn (a bar per month and kind, a screenshot that is not
    blank), and its month in progress agrees with the overview's own columns: R2 (11th) and
    R9's stores below the minimum (7th), summed over the account managers."""
    bars = driver.find_all("#violations-chart rect.bar")
    if len(bars) != 30:
        fail(f"the violations chart has {len(bars)} bars, not 6 months x 5 kinds")
    shot = driver.drawn_screenshot(driver.find("#violations-chart svg"), "violations chart")
    with open(os.path.join(artifacts, "console-violations.png"), "wb") as f:
        f.write(shot)
    rows = driver.find_all("#violations tbody tr")
    if len(rows) != 6:
        fail(f"the violations table has {len(rows)} months")
    now = [int(driver.text(c)) for c in driver.find_all(
        "#violations tbody tr:last-child td span")]
    r2, below = column_sum(driver, "#overview", 11), column_sum(driver, "#overview", 7)
    if now[0] != r2 or now[4] != below:
        fail(f"this month's violations {now} disagree with the overview (R2 {r2}, below {below})")
    print(f"console-browser: violations chart drawn ({len(bars)} bars); this month {now} "
          f"(the overview's columns: R2 {r2}, below the minimum {below})")


def http_get(port, path, cookie=None):
    """A GET without following redirects: (status, content type, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type") or "", body


def check_photos(driver, base, port, artifacts):
    """The demo's photographed visit: its store page shows a thumbnail that loads, the full
    photo is served to the session and refused without it or through another store, and the
    photo still on the phone is shown as not yet uploaded."""
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.s("GET", "/cookie"))
    managers = sorted(set(re.findall(r'href="(/console/manager/[^"]+)"', driver.source())))
    found = None
    for manager in managers:
        _, _, page = http_get(port, manager, cookie)
        stores = sorted(set(re.findall(r'href="(/console/store/[^"?]+)[^"]*"', page.decode())))
        for store in stores:
            status, _, body = http_get(port, store, cookie)
            if status == 200 and "/photo/" in body.decode():
                found = (store, body.decode(), [s for s in stores if s != store])
                break
        if found:
            break
    if not found:
        fail("no store page of the demo shows a photo")
    store, page, others = found
    links = re.findall(r'<a href="(/console/store/[^"]+/photo/[^"]+)">', page)
    if not links or "尚未上传" not in page:
        fail(f"the store page lacks a linked photo or a not-yet-uploaded one: {store}")
    driver.go(base + store)
    shot = driver.drawn_screenshot(driver.find("ul.photos img"), "thumbnail")
    with open(os.path.join(artifacts, "console-photo.png"), "wb") as f:
        f.write(shot)
    status, kind, photo = http_get(port, links[0], cookie)
    if status != 200 or kind != "image/jpeg" or photo[:3] != b"\xff\xd8\xff":
        fail(f"the photo was not served to the session: {status} {kind}")
    status, kind, _ = http_get(port, links[0])
    if status == 200 or kind.startswith("image/"):
        fail(f"the photo was served without a session: {status} {kind}")
    # The same photo asked for through another store, and a hash no document references.
    photo_hash = links[0].rsplit("/", 1)[1]
    if not others:
        fail("the photographed store's manager has no other store to ask through")
    for stranger in [f"{others[0]}/photo/{photo_hash}", f"{store}/photo/sha256:{'0' * 64}"]:
        status, kind, _ = http_get(port, stranger, cookie)
        if status != 404 or kind.startswith("image/"):
            fail(f"a photo no document of that store references was served: {stranger} {status}")
    driver.go(base + "/console")
    print(f"console-browser: {store} shows its photo ({len(photo)} bytes; refused without the "
          f"session, through {others[0]} and for an unreferenced hash) and one not yet uploaded")


def main():
    if len(sys.argv) < 2:
        fail("usage: console-browser.py SERVER_BINARY [ARTIFACT_DIR]")
    binary = sys.argv[1]
    artifacts = sys.argv[2] if len(sys.argv) > 2 else "target"
    os.makedirs(artifacts, exist_ok=True)
    data = tempfile.mkdtemp(prefix="console-browser.")
    port, driver_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [binary, "serve", "--demo", "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    driver = None
    chromedriver = None
    try:
        started = time.monotonic()
        code = None
        printed = []
        # Bounded by the server's output: it ends when the code is printed or output stops.
        for line in server.stdout:
            printed.append(line)
            match = re.search(r"one-time code ([A-Z0-9-]{14})", line)
            if match:
                code = match.group(1)
                break
            if time.monotonic() - started > PATIENCE_S:
                break
        if not code:
            fail("the demo printed no console code:\n" + "".join(printed[-20:]))
        seeded = next((l.strip() for l in printed if "visits," in l), "")
        print(f"console-browser: demo ready in {time.monotonic() - started:.1f} s: {seeded}")
        refused = subprocess.run(
            [binary, "admin", "--data-dir", data, "console-code", "am-li"],
            capture_output=True,
            text=True,
        )
        if refused.returncode == 0 or "supervisors and admins" not in refused.stderr:
            fail(f"an account manager got a console code: {refused.stdout} {refused.stderr}")

        chromedriver = subprocess.Popen(
            ["chromedriver", f"--port={driver_port}", "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{driver_port}/status", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        driver = WebDriver(f"http://127.0.0.1:{driver_port}")

        # Not signed in: the console sends the browser to the sign-in page.
        driver.go(base + "/console")
        if not driver.current_url().endswith("/console/sign-in"):
            fail(f"an anonymous visit was not sent to sign in: {driver.current_url()}")
        driver.type(driver.find("#code"), code)
        driver.click(driver.find("#submit"))
        if not driver.wait_url("/console").endswith("/console"):
            fail(f"signing in did not open the overview: {driver.current_url()}\n{driver.source()[:2000]}")

        rows = driver.find_all("#overview tbody tr")
        if len(rows) != 4:
            fail(f"the overview shows {len(rows)} account managers, not the demo's 4")
        table = driver.text(driver.find("#overview"))
        for expected in ["李伟 Li Wei", "陈静 Chen Jing", "92.0", "74.0", "标杆加分"]:
            if expected not in table:
                fail(f"the overview lacks `{expected}`:\n{table}")
        print("console-browser: overview rows:")
        for row in rows:
            print("   ", driver.text(row).replace("\n", " | "))

        with open(os.path.join(artifacts, "console-overview.png"), "wb") as f:
            f.write(driver.screenshot())
        bars = driver.find_all("#coverage-chart rect.bar")
        if len(bars) < 4:
            fail(f"the coverage chart has {len(bars)} bars")
        chart = driver.drawn_screenshot(driver.find("#coverage-chart"), "chart")
        chart_path = os.path.join(artifacts, "console-chart.png")
        with open(chart_path, "wb") as f:
            f.write(chart)
        distinct = non_blank(chart, "chart")
        print(f"console-browser: chart drawn, {len(bars)} bars, screenshot {chart_path} "
              f"({len(chart)} bytes, {distinct} distinct values)")

        check_violations_chart(driver, artifacts)
        check_photos(driver, base, port, artifacts)

        # An account manager's page, then one of the stores they visited: its history.
        # Links are followed by navigations that wait for the page (see the language switch).
        def follow(element):
            href = driver.attribute(element, "href")
            driver.go(href if href.startswith("http") else base + href)

        follow(driver.find("#overview tbody tr a"))
        store_links = driver.find_all("#stores a")
        if not store_links:
            fail("the account manager's page lists no stores")
        follow(store_links[0])
        if "/console/store/" not in driver.current_url():
            fail(f"the store link went to {driver.current_url()}")
        history = driver.find_all("#history tbody tr")
        visits = driver.find_all("#visits tbody tr")
        if not history:
            fail("the store page shows no history")
        with open(os.path.join(artifacts, "console-store.png"), "wb") as f:
            f.write(driver.screenshot())
        print(f"console-browser: store page shows {len(history)} history entries and "
              f"{len(visits)} visits")

        # English, then sign out: the session no longer opens the console.
        # The sign-out button found next must be the new page's.
        follow(driver.find("header a.lang"))
        if "District overview" not in driver.source():
            fail("the English switch did not turn the page into English")
        driver.click(driver.find("#sign-out"))
        if not driver.wait_url("/console/sign-in").endswith("/console/sign-in"):
            fail(f"signing out went to {driver.current_url()}")
        driver.go(base + "/console")
        if not driver.wait_url("/console/sign-in").endswith("/console/sign-in"):
            fail("after signing out the overview still opened")
        print("console-browser: ok")
    finally:
        if driver:
            driver.quit()
        if chromedriver:
            chromedriver.terminate()
            chromedriver.wait(timeout=30)
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
