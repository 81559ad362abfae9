package org.fieldsync.android

import org.fieldsync.ffi.NewScorecardRecord
import org.fieldsync.ffi.ScoreDimension
import org.fieldsync.ffi.ScoreWeightsRecord
import org.fieldsync.ffi.ScorecardOutcomeRecord
import org.fieldsync.ffi.ScorecardRecord
import java.time.YearMonth

// Monthly scorecards (R4), off the caller's thread. The outcome (total, pass, bonus) is the
// library's; a scorecard read back carries it too.

/**
 * Starts the scorecard of [manager] for [month] by this user; returns its id.
 * [weights] null: the district's default (25 each, pass 80, bonus 90).
 */
suspend fun FieldsyncStore.createScorecard(manager: String, month: YearMonth, weights: ScoreWeightsRecord? = null): String =
    local { createScorecard(NewScorecardRecord(manager, month, weights)) }

suspend fun FieldsyncStore.scorecard(id: String): ScorecardRecord = local { scorecard(id) }

suspend fun FieldsyncStore.scorecardOutcome(id: String): ScorecardOutcomeRecord = local { scorecardOutcome(id) }

/** Scores one dimension: 0 up to its weight, at most one decimal. */
suspend fun FieldsyncStore.scoreDimension(id: String, dimension: ScoreDimension, score: Double) =
    local { scoreDimension(id, dimension, score) }

suspend fun FieldsyncStore.setScorecardEvidence(id: String, dimension: ScoreDimension, text: String) =
    local { setScorecardEvidence(id, dimension, text) }

/** The scored account manager acknowledges the four scores. */
suspend fun FieldsyncStore.acknowledgeScorecard(id: String, comment: String? = null) =
    local { acknowledgeScorecard(id, comment) }
