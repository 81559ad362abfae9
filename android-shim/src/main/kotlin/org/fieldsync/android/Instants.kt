package org.fieldsync.android

import java.time.Instant

/**
 * Milliseconds since the epoch of [instant], as the library receives an instant (the
 * generated bindings call it). An instant beyond a `Long` of milliseconds (hundreds of
 * millions of years away) becomes the nearest `Long`, so the library refuses it with a
 * `FieldException.InvalidInput` naming the field instead of an `ArithmeticException` here.
 */
fun epochMillisOf(instant: Instant): Long =
    try {
        instant.toEpochMilli()
    } catch (e: ArithmeticException) {
        if (instant.isBefore(Instant.EPOCH)) Long.MIN_VALUE else Long.MAX_VALUE
    }
