"""Smoke test of the Python bindings uniffi generates from the same library as Kotlin's.

Shows the API is not Kotlin-only: a store opened from Python, a retail store created, the
live store list read and watched, a visit recorded, its receipt read. Run by scripts/test
after scripts/bindings:

    python3 ffi/tests/python/smoke.py target/bindings/python

The argument is the folder holding the generated `fieldsync_ffi.py`; the library it loads is
copied beside it by scripts/bindings.
"""

import sys
import tempfile
import time

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else "target/bindings/python")

import fieldsync_ffi as f  # noqa: E402


class Heard(f.ChangesListener):
    def __init__(self):
        self.versions = []

    def on_changed(self, version):
        self.versions.append(version)


def main():
    with tempfile.TemporaryDirectory() as folder:
        store = f.FieldStore.open(folder + "/phone.db", "am-li", "phone-py")
        monday = 1763863200000  # 2025-11-23T10:00:00+08:00
        store.set_clock_for_tests(monday)
        heard = Heard()
        watch = store.watch(store.topics_of(f.LiveList.STORE_LIST), heard)
        store_id = store.create_store(
            f.NewStoreRecord(
                licence="330100000991", name="Green Leaf", owner="Wang", phone="13800000000",
                address="1 Wulin Road", lat=30.2741, lng=120.1551, datum=f.Datum.WGS84,
                geofence_m=None, format=f.StoreFormat.CONVENIENCE, market=f.MarketType.URBAN,
                size=f.StoreSize.MEDIUM, tier=f.ValueTier.A, monthly_volume=120,
                demo_street=False, functional_terminal=False, rating=None, territory="am-li",
            )
        )
        page = store.store_list(f.StoreListQuery())
        assert page.total == 1 and page.rows[0].visit_due, page
        before = len(heard.versions)
        visit = store.create_visit(
            f.NewVisitRecord(
                store_id=store_id, kind=f.VisitKind.ROUTINE,
                check_in=f.CheckPointRecord(at=monday, gps=None), complaint_id=None,
            )
        )
        assert len(heard.versions) > before, "the watch heard the visit"
        row = store.store_list(f.StoreListQuery()).rows[0]
        assert not row.visit_due and row.last_visit == monday, row
        assert store.receipt(visit).is_saved_on_phone(), store.receipt(visit)
        assert store.last_synced() is None
        assert store.today() == "2025-11-23", store.today()  # a day is text outside Kotlin
        try:
            store.stores_due_visit("am-li", "2025-13-01")
            raise AssertionError("a day that does not exist was accepted")
        except f.FieldError.InvalidInput as e:
            assert e.field == "day" and "2025-13-01" in e.reason, repr(e)
        watch.cancel()
        del watch, store
    print("python bindings: ok")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"({time.monotonic() - started:.2f} s)")
