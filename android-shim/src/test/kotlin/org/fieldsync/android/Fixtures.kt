package org.fieldsync.android

import org.fieldsync.ffi.CheckPointRecord
import org.fieldsync.ffi.Datum
import org.fieldsync.ffi.DisplayCheckRecord
import org.fieldsync.ffi.DisplayStandard
import org.fieldsync.ffi.GpsFixRecord
import org.fieldsync.ffi.MarketType
import org.fieldsync.ffi.NewCountLineRecord
import org.fieldsync.ffi.NewProductZoneRecord
import org.fieldsync.ffi.NewStoreRecord
import org.fieldsync.ffi.NewVisitRecord
import org.fieldsync.ffi.ProductOnDisplayRecord
import org.fieldsync.ffi.StandardCheckRecord
import org.fieldsync.ffi.StoreFormat
import org.fieldsync.ffi.StoreSize
import org.fieldsync.ffi.TerminalRating
import org.fieldsync.ffi.ValueTier
import org.fieldsync.ffi.Verdict
import org.fieldsync.ffi.VisitKind
import java.time.Instant

const val STORE_LAT = 30.2741
const val STORE_LNG = 120.1551

fun checkPoint(at: Instant = Instant.now()) =
    CheckPointRecord(at, GpsFixRecord(STORE_LAT, STORE_LNG + 0.0001, 8.0, Datum.WGS84))

fun routineVisit(storeId: String) = NewVisitRecord(storeId, VisitKind.ROUTINE, checkPoint(), null)

/** A check that passes two standards, fails one, and sees 5 products, 4 without a tag (R2). */
fun displayCheck() = DisplayCheckRecord(
    standards = listOf(
        StandardCheckRecord(DisplayStandard.PRICE_TAG_BOX, Verdict.PASS, "", emptyList()),
        StandardCheckRecord(DisplayStandard.TIDY_COUNTER, Verdict.PASS, "clean", emptyList()),
        StandardCheckRecord(DisplayStandard.PRICE_TAGS, Verdict.FAIL, "four tags missing", emptyList()),
    ),
    products = listOf(
        ProductOnDisplayRecord("sku-101", "Huanghelou", true),
        ProductOnDisplayRecord("sku-102", "Liqun", false),
        ProductOnDisplayRecord("sku-103", "Yuxi", false),
        ProductOnDisplayRecord("sku-104", "Zhonghua", false),
        ProductOnDisplayRecord("sku-105", "Furongwang", false),
    ),
    removedProducts = emptyList(),
    newProductZone = NewProductZoneRecord(true, listOf("sku-105"), "by the till"),
)

val countLines = listOf(
    NewCountLineRecord("sku-101", "Huanghelou", 40),
    NewCountLineRecord("sku-102", "Liqun", 60),
)

const val PHOTO = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/** A demo-street convenience store of [territory] that is a functional terminal rated good. */
fun newStore(licence: String, territory: String = "am-li") = NewStoreRecord(
    licence = licence, name = "Green Leaf $licence", owner = "Wang", phone = "13800000000",
    address = "1 Wulin Road", lat = STORE_LAT, lng = STORE_LNG, datum = Datum.WGS84, geofenceM = null,
    format = StoreFormat.CONVENIENCE, market = MarketType.URBAN, size = StoreSize.MEDIUM,
    tier = ValueTier.A, monthlyVolume = 120, demoStreet = true, functionalTerminal = true,
    rating = TerminalRating.GOOD, territory = territory,
)
