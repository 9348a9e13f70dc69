"""JourneyWorkflow's patches: behaviour changes that runs begun before them must not take.

The SDK's way (`workflow.patched`) costs a run, for each patch it passes, a marker in its history
and an upsert of the `TemporalChangeVersion` search attribute, which the Temporal server indexes:
~2.4 ms of the server's CPU per patch per run (docs/operations.md, "Performance"), and a VIP
complaint passed five. So the patches made up to December 2026 are one: a run that records
BUNDLE_2026_12 in its first workflow task has all of them, and a run begun before it asks for each
as it did. A later patch is asked for alone (`RunServices.has` passes it to `workflow.patched`)
until it joins a new bundle.
"""

from __future__ import annotations

# A run's start is one local activity, its step records are written together at each wait and at
# the end, and its finish is a local activity: fewer Temporal round trips and store transactions.
# A review shows as pending (state query, decisions accepted) only once it is in the store.
BATCHED_BOOKKEEPING = "batched-bookkeeping"
# A classify step right before a score step asks for both in one inference round trip.
CLASSIFY_WITH_SCORE = "classify-with-next-score"
# An update_profile step that opts a customer out needs a confident intent.
CONSENT_GUARD = "consent-needs-confidence"
# An event whose message id the run has received before is a redelivery and is ignored.
EVENT_DEDUPE = "event-id-dedupe"
# A run that has taken its step budget parks for an operator instead of looping on.
STEP_BUDGET = "step-budget"
# Only an existing reviewer account allowed for the review's group may decide it.
VERIFY_REVIEWER = "verify-reviewer-account"
# A failed inference activity is answered by the rules or the preset copy.
INFERENCE_FALLBACK = "inference-fallback-to-rules"
# The step a run waits at is written to the store, even when no step ran since the last write.
WAIT_POSITION = "record-where-run-waits"

BUNDLE_2026_12 = "journey-patches-2026-12"
IN_BUNDLE_2026_12 = frozenset(
    {
        BATCHED_BOOKKEEPING,
        CLASSIFY_WITH_SCORE,
        CONSENT_GUARD,
        EVENT_DEDUPE,
        STEP_BUDGET,
        VERIFY_REVIEWER,
        INFERENCE_FALLBACK,
        WAIT_POSITION,
    }
)
